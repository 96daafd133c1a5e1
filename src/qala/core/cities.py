"""Cities (tenants), their districts and departments: tables, shapes and queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from qala.core.db import Base, CityOwned
from qala.core.errors import NotFound
from qala.core.i18n import _


class City(Base):
    """A city administration (akimat) served by this deployment — город / қала."""

    __tablename__ = "core_cities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_kk: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    region_ru: Mapped[str] = mapped_column(String(200), default="")
    region_kk: Mapped[str] = mapped_column(String(200), default="")
    region_en: Mapped[str] = mapped_column(String(200), default="")
    population: Mapped[int] = mapped_column(Integer, default=0)
    centre_lat: Mapped[float] = mapped_column(Float)
    centre_lon: Mapped[float] = mapped_column(Float)
    bounds: Mapped[list[float]] = mapped_column(JSON, default=list)  # [west, south, east, north]
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    default_language: Mapped[str] = mapped_column(String(2), default="ru")
    enabled_modules: Mapped[list[str] | None] = mapped_column(JSON, default=None)

    districts: Mapped[list[District]] = relationship(
        back_populates="city", cascade="all, delete-orphan", order_by="District.id"
    )

    def name(self, language: str) -> str:
        """The city's name in ``language`` (ru, kk or en)."""
        return str(getattr(self, f"name_{language}", None) or self.name_ru)

    def region(self, language: str) -> str:
        """The region's name in ``language``."""
        return str(getattr(self, f"region_{language}", None) or self.region_ru)

    def set_module(self, module: str, enabled: bool, installed: list[str]) -> None:
        """Switch ``module`` on or off for this city."""
        current = list(self.enabled_modules) if self.enabled_modules is not None else installed
        if enabled and module not in current:
            current.append(module)
        if not enabled and module in current:
            current.remove(module)
        self.enabled_modules = current

    def module_enabled(self, module: str) -> bool:
        """True when ``module`` is switched on for this city (None means every module)."""
        return self.enabled_modules is None or module in self.enabled_modules


class District(CityOwned, Base):
    """An administrative district of a city — район / аудан; geometry is a GeoJSON polygon."""

    __tablename__ = "core_districts"
    __table_args__ = (UniqueConstraint("city_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    name_ru: Mapped[str] = mapped_column(String(200))
    name_kk: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)

    city: Mapped[City] = relationship(back_populates="districts")

    def name(self, language: str) -> str:
        """The district's name in ``language``."""
        return str(getattr(self, f"name_{language}", None) or self.name_ru)


class Department(CityOwned, Base):
    """A department of the akimat — отдел / бөлім; specialists belong to one."""

    __tablename__ = "core_departments"
    __table_args__ = (UniqueConstraint("city_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    name_ru: Mapped[str] = mapped_column(String(300))
    name_kk: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_departments.id", ondelete="SET NULL"), default=None
    )

    def name(self, language: str) -> str:
        """The department's name in ``language``."""
        return str(getattr(self, f"name_{language}", None) or self.name_ru)


@dataclass(frozen=True)
class CityContext:
    """What a request knows of its city: passed to services instead of the ORM row."""

    id: int
    slug: str
    timezone: str
    enabled_modules: tuple[str, ...] | None
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, city: City) -> CityContext:
        """Build the context of ``city``."""
        modules = tuple(city.enabled_modules) if city.enabled_modules is not None else None
        names = {"ru": city.name_ru, "kk": city.name_kk, "en": city.name_en}
        return cls(city.id, city.slug, city.timezone, modules, names)


def list_cities(db: Session) -> list[City]:
    """All cities, by Russian name."""
    return list(db.scalars(select(City).order_by(City.name_ru)))


def get_city(db: Session, slug: str) -> City:
    """The city with ``slug``, or CityNotFound."""
    city = db.scalar(select(City).where(City.slug == slug))
    if city is None:
        raise CityNotFound(str(_("There is no city '{slug}'.", slug=slug)))
    return city


def list_departments(db: Session, city_id: int) -> list[Department]:
    """The departments of one city."""
    query = select(Department).where(Department.city_id == city_id).order_by(Department.name_ru)
    return list(db.scalars(query))


def districts_geojson(city: City, language: str) -> dict[str, Any]:
    """The city's districts as a GeoJSON FeatureCollection (RFC 7946)."""
    features = [
        {
            "type": "Feature",
            "id": district.slug,
            "geometry": district.geometry,
            "properties": {"slug": district.slug, "name": district.name(language)},
        }
        for district in city.districts
    ]
    return {"type": "FeatureCollection", "features": features}


class CityNotFound(NotFound):
    """No city has that slug."""
