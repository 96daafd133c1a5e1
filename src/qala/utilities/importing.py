"""Import of buildings and meters from CSV or GeoJSON with a row-level error report.

Good rows are imported and bad rows reported (row number, field, message); each row is applied
in its own savepoint, so a row that fails half-way leaves nothing behind. Rows are keyed by the
building code / meter serial, so importing the corrected file again updates instead of
duplicating. ``dry_run`` runs everything and rolls it all back: the report of a real import."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.errors import Problem
from qala.core.i18n import _
from qala.utilities import service
from qala.utilities.models import Account, Building, Meter
from qala.utilities.schemas import (
    AccountCreate,
    BuildingCreate,
    BuildingUpdate,
    ImportReport,
    MeterCreate,
    MeterUpdate,
    RowError,
)

MAX_ROWS = 100_000
BUILDING_COLUMNS = frozenset(BuildingCreate.model_fields)
METER_COLUMNS = frozenset(
    {*MeterCreate.model_fields, "building_code", "account", "apartment", "residents", "parent"}
) - {"building_id", "account_id", "parent_id"}


@dataclass
class Rows:
    """Parsed input: data rows (number, fields) and problems found before any row."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# --- parsing (pure) -----------------------------------------------------------------------


def parse(format: str, content: str, columns: frozenset[str], required: set[str]) -> Rows:
    """Rows of a CSV (comma, semicolon or tab separated) or GeoJSON document."""
    parsed = _parse_geojson(content) if format == "geojson" else _parse_csv(content)
    if parsed.rows and not parsed.errors:
        present = set().union(*(row.keys() for _n, row in parsed.rows))
        missing = sorted(required - present)
        for name in missing:
            parsed.errors.append(RowError(row=0, field=name, message=str(_("Missing column."))))
        for name in sorted(present - columns - {"lat", "lon"}):
            parsed.errors.append(
                RowError(row=0, field=name, message=str(_("Unknown column, ignored.")))
            )
        if missing:
            parsed.rows = []
    if len(parsed.rows) > MAX_ROWS:
        message = _("At most {count} rows per import.", count=MAX_ROWS)
        return Rows(errors=[RowError(row=0, field="content", message=str(message))])
    return parsed


def _parse_csv(content: str) -> Rows:
    text = content.lstrip("\ufeff")
    header = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=header.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    rows = Rows()
    try:
        for number, record in enumerate(reader, start=1):
            cleaned = {
                (key or "").strip().lower(): (value or "").strip()
                for key, value in record.items()
                if key is not None
            }
            if any(cleaned.values()):
                rows.rows.append((number, {k: v for k, v in cleaned.items() if v != ""}))
    except csv.Error as exc:
        rows.errors.append(RowError(row=reader.line_num, field="content", message=str(exc)))
    return rows


def _parse_geojson(content: str) -> Rows:
    try:
        document = json.loads(content)
    except ValueError:
        message = str(_("The file is not valid GeoJSON."))
        return Rows(errors=[RowError(row=0, field="content", message=message)])
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        message = str(_("A GeoJSON FeatureCollection is expected."))
        return Rows(errors=[RowError(row=0, field="content", message=message)])
    rows = Rows()
    for number, feature in enumerate(features, start=1):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            message = str(_("A feature needs properties."))
            rows.errors.append(RowError(row=number, field="properties", message=message))
            continue
        record = {str(k).lower(): v for k, v in properties.items() if v not in (None, "")}
        point = _point_of(feature.get("geometry"))
        if point is not None:
            record["lon"], record["lat"] = point
        rows.rows.append((number, record))
    return rows


def _point_of(geometry: Any) -> tuple[float, float] | None:
    """A Point's coordinates, or the mean vertex of a Polygon's outer ring."""
    if not isinstance(geometry, dict):
        return None
    coordinates = geometry.get("coordinates")
    try:
        if geometry.get("type") == "Point":
            return float(coordinates[0]), float(coordinates[1])  # type: ignore[index]
        if geometry.get("type") == "Polygon":
            ring = coordinates[0][:-1] or coordinates[0]  # type: ignore[index]
            return (
                sum(float(p[0]) for p in ring) / len(ring),
                sum(float(p[1]) for p in ring) / len(ring),
            )
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return None


def _number_text(record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Decimal commas (``51,15``) read as points, as spreadsheets in ru/kk locales write them."""
    for name in names:
        value = record.get(name)
        if isinstance(value, str):
            record[name] = value.replace(",", ".").replace("\u00a0", "").replace(" ", "")
    return record


def validation_errors(number: int, exc: ValidationError) -> list[RowError]:
    """Row errors of a pydantic validation failure, one per field."""
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append(RowError(row=number, field=".".join(location) or "row", message=error["msg"]))
    return errors


def problem_errors(number: int, problem: Problem) -> list[RowError]:
    """Row errors of a service problem (which names its field when it knows it)."""
    named = [e for e in problem.extra.get("errors", []) if isinstance(e, dict)]
    if not named:
        return [RowError(row=number, field="row", message=str(problem.detail))]
    return [
        RowError(row=number, field=str(e.get("field", "row")), message=str(problem.detail))
        for e in named
    ]


# --- applying -----------------------------------------------------------------------------


def _apply_rows(
    db: Session, parsed: Rows, dry_run: bool, apply: Callable[[dict[str, Any]], bool]
) -> ImportReport:
    """Apply each row in a savepoint; ``apply`` returns True when it created, False when it
    updated, and raises ValidationError or Problem for a bad row."""
    report = ImportReport(
        dry_run=dry_run, rows=len(parsed.rows), created=0, updated=0, rejected=0, errors=[]
    )
    report.errors.extend(parsed.errors)
    outer = db.begin_nested() if dry_run else None
    for number, record in parsed.rows:
        savepoint = db.begin_nested()
        try:
            created = apply(record)
            savepoint.commit()
        except ValidationError as exc:
            savepoint.rollback()
            report.errors.extend(validation_errors(number, exc))
            report.rejected += 1
        except Problem as exc:
            savepoint.rollback()
            report.errors.extend(problem_errors(number, exc))
            report.rejected += 1
        else:
            report.created += created
            report.updated += not created
    if outer is not None:
        outer.rollback()
    return report


def import_buildings(
    db: Session, city: CityContext, format: str, content: str, *, dry_run: bool = False
) -> ImportReport:
    """Create or update buildings (keyed by ``code``) from CSV / GeoJSON rows."""
    parsed = parse(format, content, BUILDING_COLUMNS, {"code", "address"})

    def apply(record: dict[str, Any]) -> bool:
        record = _number_text(record, ("lat", "lon"))
        code = str(record.get("code", "")).strip()
        existing = db.scalar(
            select(Building.id).where(Building.city_id == city.id, Building.code == code)
        )
        if existing is None:
            fields = {k: v for k, v in record.items() if k in BuildingCreate.model_fields}
            service.create_building(db, city, BuildingCreate.model_validate(fields))
            return True
        update = {k: v for k, v in record.items() if k in BuildingUpdate.model_fields}
        service.update_building(db, city, existing, BuildingUpdate.model_validate(update))
        return False

    return _apply_rows(db, parsed, dry_run, apply)


def import_meters(
    db: Session, city: CityContext, format: str, content: str, *, dry_run: bool = False
) -> ImportReport:
    """Create or update meters (keyed by ``serial``) from CSV / GeoJSON rows; a row naming an
    ``account`` number that does not exist yet opens it (with ``apartment`` and ``residents``)."""
    parsed = parse(format, content, METER_COLUMNS, {"serial", "resource"})

    def apply(record: dict[str, Any]) -> bool:
        record = _number_text(record, ("lat", "lon"))
        fields = {k: v for k, v in record.items() if k in MeterCreate.model_fields}
        fields["building_id"] = _building_id(db, city, record.get("building_code"))
        fields["account_id"] = _account_id(db, city, record, fields["building_id"])
        fields["parent_id"] = _meter_id(db, city, record.get("parent"), "parent")
        existing = db.scalar(
            select(Meter).where(Meter.city_id == city.id, Meter.serial == fields.get("serial"))
        )
        if existing is None:
            service.create_meter(db, city, MeterCreate.model_validate(fields))
            return True
        _check_unchanged(existing, fields)
        update = {
            k: v for k, v in fields.items() if k in MeterUpdate.model_fields and v is not None
        }
        service.update_meter(db, city, existing.id, MeterUpdate.model_validate(update))
        return False

    return _apply_rows(db, parsed, dry_run, apply)


def _building_id(db: Session, city: CityContext, code: Any) -> int | None:
    if not code:
        return None
    found = db.scalar(
        select(Building.id).where(Building.city_id == city.id, Building.code == str(code))
    )
    if found is None:
        message = _("There is no building with code {code}.", code=code)
        raise service.field_error("building_code", str(message))
    return found


def _account_id(
    db: Session, city: CityContext, record: dict[str, Any], building_id: int | None
) -> int | None:
    number = record.get("account")
    if not number:
        return None
    found = db.scalar(
        select(Account.id).where(Account.city_id == city.id, Account.number == str(number))
    )
    if found is not None:
        return found
    if building_id is None:
        message = _("A new account needs the building_code of its building.")
        raise service.field_error("building_code", str(message))
    data = {
        "number": str(number),
        "apartment": str(record.get("apartment") or number),
        "residents": record.get("residents", 1),
    }
    return service.create_account(db, city, building_id, AccountCreate.model_validate(data)).id


def _meter_id(db: Session, city: CityContext, serial: Any, field: str) -> int | None:
    if not serial:
        return None
    found = db.scalar(select(Meter.id).where(Meter.city_id == city.id, Meter.serial == str(serial)))
    if found is None:
        message = _("There is no meter with serial {serial}.", serial=serial)
        raise service.field_error(field, str(message))
    return found


def _check_unchanged(meter: Meter, fields: dict[str, Any]) -> None:
    """A meter's resource and level are what it is: a row changing them is refused."""
    for name in ("resource", "level"):
        if fields.get(name) not in (None, getattr(meter, name)):
            message = _("An existing meter's {name} cannot change.", name=name)
            raise service.field_error(name, str(message))
