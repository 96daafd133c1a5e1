"""Seed demo cities, their districts and departments, and demo users; idempotent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.cities import City, Department, District

if TYPE_CHECKING:
    from qala.core.modules import Module

DEMO_PASSWORD = "qala-demo-2026"  # noqa: S105 - published demo credential, documented in README

#: Departments every demo akimat has (slug, ru, kk, en).
DEPARTMENTS: tuple[tuple[str, str, str, str], ...] = (
    (
        "housing",
        "Управление энергетики и ЖКХ",
        "Энергетика және ТКШ басқармасы",
        "Energy and Housing & Utilities Department",
    ),
    (
        "roads",
        "Управление пассажирского транспорта и автомобильных дорог",
        "Жолаушылар көлігі және автомобиль жолдары басқармасы",
        "Passenger Transport and Roads Department",
    ),
    (
        "health",
        "Управление здравоохранения",
        "Денсаулық сақтау басқармасы",
        "Healthcare Department",
    ),
    (
        "environment",
        "Управление экологии и окружающей среды",
        "Экология және қоршаған орта басқармасы",
        "Ecology and Environment Department",
    ),
    ("education", "Управление образования", "Білім басқармасы", "Education Department"),
    ("digital", "Управление цифровизации", "Цифрландыру басқармасы", "Digitalisation Department"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo sign-in: username, role, and the cities it holds the role in (empty: all)."""

    username: str
    full_name: str
    role: str
    cities: tuple[str, ...] = ()
    platform_admin: bool = False


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "Platform Administrator", "city_admin", platform_admin=True),
    DemoAccount("operator", "Айгерим Оспанова", "operator", ("astana", "almaty", "stepnogorsk")),
    DemoAccount("astana.operator", "Ерлан Сейтқали", "operator", ("astana",)),
    DemoAccount("almaty.admin", "Динара Ахметова", "city_admin", ("almaty",)),
    DemoAccount("specialist", "Бауыржан Жұмабеков", "specialist", ("astana",)),
    DemoAccount("citizen", "Алия Нурланқызы", "citizen", ("astana", "almaty")),
)


def demo_cities() -> list[dict[str, Any]]:
    """The demo cities shipped with the package."""
    raw = files("qala.demo").joinpath("data/cities.json").read_text(encoding="utf-8")
    cities: list[dict[str, Any]] = json.loads(raw)["cities"]
    return cities


def seed_cities(db: Session, only: tuple[str, ...] = ()) -> list[City]:
    """Create or update the demo cities and their districts."""
    seeded = []
    for data in demo_cities():
        if only and data["slug"] not in only:
            continue
        city = db.scalar(select(City).where(City.slug == data["slug"]))
        if city is None:
            city = City(slug=data["slug"])
            db.add(city)
        for key in (
            "name_ru",
            "name_kk",
            "name_en",
            "region_ru",
            "region_kk",
            "region_en",
            "population",
            "bounds",
            "timezone",
            "default_language",
        ):
            setattr(city, key, data[key])
        city.centre_lat, city.centre_lon = data["centre"]
        db.flush()
        known = {district.slug: district for district in city.districts}
        for item in data["districts"]:
            district = known.get(item["slug"]) or District(city_id=city.id, slug=item["slug"])
            district.name_ru, district.name_kk = item["name_ru"], item["name_kk"]
            district.name_en, district.geometry = item["name_en"], item["geometry"]
            if district.id is None:
                city.districts.append(district)
        seeded.append(city)
    db.flush()
    return seeded


def seed_city(db: Session, city: City) -> None:
    """The kernel's demo data of one city: its departments."""
    existing = set(db.scalars(select(Department.slug).where(Department.city_id == city.id)))
    for slug, ru, kk, en in DEPARTMENTS:
        if slug not in existing:
            db.add(Department(city_id=city.id, slug=slug, name_ru=ru, name_kk=kk, name_en=en))
    db.flush()


def seed_accounts(db: Session, cities: list[City]) -> list[User]:
    """Create the demo sign-ins (password ``DEMO_PASSWORD``) with their roles."""
    by_slug = {city.slug: city for city in cities}
    users = []
    for account in ACCOUNTS:
        user = db.scalar(select(User).where(User.username == account.username))
        if user is None:
            user = auth.create_user(
                db,
                account.username,
                DEMO_PASSWORD,
                full_name=account.full_name,
                is_platform_admin=account.platform_admin,
            )
        for slug in account.cities:
            if slug in by_slug:
                department_id = None
                if account.role == "specialist":
                    department_id = db.scalar(
                        select(Department.id).where(
                            Department.city_id == by_slug[slug].id, Department.slug == "housing"
                        )
                    )
                if user.memberships and any(
                    m.city_id == by_slug[slug].id for m in user.memberships
                ):
                    continue
                auth.set_role(db, user, by_slug[slug].id, account.role, department_id=department_id)
        users.append(user)
    db.flush()
    return users


def seed_demo(db: Session, modules: Sequence[Module], only: tuple[str, ...] = ()) -> list[City]:
    """Seed the demo cities, every enabled module's demo data for each, and the demo sign-ins.

    ``modules`` are the deployment's enabled modules; ``only`` limits the cities (empty: all).
    Safe to run again; the caller commits.
    """
    seeded = seed_cities(db, only)
    for city in seeded:
        for module in modules:
            seed = module.load("demo")
            if seed is not None and city.module_enabled(module.name):
                seed(db, city)
    seed_accounts(db, seeded)
    return seeded
