"""API shapes of the utilities module: assets, import reports, readings, consumption,
balance and losses, norms, incidents."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from qala.core.schemas import Read, Strict

ResourceCode = Literal["cold_water", "hot_water", "heat", "electricity", "gas"]
Level = Literal["district", "building", "apartment"]
MeterStatus = Literal["active", "faulty", "inactive", "removed"]
Grain = Literal["hour", "day", "month"]
Scope = Literal["city", "district", "building", "meter"]
IncidentKind = Literal[
    "leak",
    "burst",
    "outage",
    "stuck",
    "negative",
    "decreasing",
    "gap",
    "spike",
    "reverse_flow",
    "abnormal",
    "silent",
    "other",
]
Severity = Literal["low", "medium", "high", "critical"]
IncidentStatus = Literal["open", "acknowledged", "resolved"]
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Latitude = Field(default=None, ge=-90, le=90)
Longitude = Field(default=None, ge=-180, le=180)


# --- assets -------------------------------------------------------------------------------


class BuildingCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=1, max_length=300)
    district: str | None = Field(default=None, max_length=64, description="District slug")
    lat: float | None = Latitude
    lon: float | None = Longitude
    floors: int = Field(default=1, ge=1, le=200)
    apartments: int = Field(default=0, ge=0, le=10_000)
    residents: int = Field(default=0, ge=0, le=100_000)
    year_built: int | None = Field(default=None, ge=1800, le=2100)


class BuildingUpdate(Strict):
    address: str | None = Field(default=None, min_length=1, max_length=300)
    district: str | None = Field(default=None, max_length=64)
    lat: float | None = Latitude
    lon: float | None = Longitude
    floors: int | None = Field(default=None, ge=1, le=200)
    apartments: int | None = Field(default=None, ge=0, le=10_000)
    residents: int | None = Field(default=None, ge=0, le=100_000)
    year_built: int | None = Field(default=None, ge=1800, le=2100)


class BuildingRead(Read):
    id: int
    code: str
    address: str
    district_id: int | None
    district: str | None = None
    lat: float | None
    lon: float | None
    floors: int
    apartments: int
    residents: int
    year_built: int | None
    meters: int = 0


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class AccountCreate(Strict):
    number: str = Field(min_length=1, max_length=64)
    apartment: str = Field(min_length=1, max_length=32)
    residents: int = Field(default=1, ge=0, le=100)


class AccountUpdate(Strict):
    apartment: str | None = Field(default=None, min_length=1, max_length=32)
    residents: int | None = Field(default=None, ge=0, le=100)


class AccountRead(Read):
    id: int
    building_id: int
    number: str
    apartment: str
    residents: int


class MeterCreate(Strict):
    serial: str = Field(min_length=1, max_length=64, pattern=SERIAL_PATTERN)
    resource: ResourceCode
    level: Level = "district"
    building_id: int | None = Field(default=None, ge=1)
    account_id: int | None = Field(default=None, ge=1)
    district: str | None = Field(default=None, max_length=64)
    parent_id: int | None = Field(default=None, ge=1)
    status: MeterStatus = "active"
    lat: float | None = Latitude
    lon: float | None = Longitude
    installed_on: dt.date | None = None
    entity_id: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^urn:ngsi-ld:",
        description="Link to an existing hub entity (e.g. an IoT device); default from serial",
    )


class MeterUpdate(Strict):
    status: MeterStatus | None = None
    parent_id: int | None = Field(default=None, ge=1)
    account_id: int | None = Field(default=None, ge=1)
    lat: float | None = Latitude
    lon: float | None = Longitude
    installed_on: dt.date | None = None


class MeterRead(Read):
    id: int
    serial: str
    entity_id: str
    resource: str
    level: str
    status: str
    unit: str
    building_id: int | None
    account_id: int | None
    district_id: int | None
    parent_id: int | None
    lat: float | None
    lon: float | None
    installed_on: dt.date | None


# --- import and readings ------------------------------------------------------------------


class ImportRequest(Strict):
    format: Literal["csv", "geojson"] = "csv"
    content: str = Field(min_length=1, max_length=20_000_000)
    dry_run: bool = False


class RowError(BaseModel):
    row: int  # 1-based data row (CSV: line after the header; GeoJSON: feature number)
    field: str
    message: str


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    created: int
    updated: int
    rejected: int
    errors: list[RowError]


class ReadingIn(Strict):
    meter: str = Field(min_length=1, max_length=300, description="Serial, id or entity id")
    at: dt.datetime
    index: float


class ReadingsIn(Strict):
    readings: list[ReadingIn] = Field(min_length=1, max_length=50_000)


class ReadingReport(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    errors: list[RowError]


# --- consumption --------------------------------------------------------------------------


class ConsumptionPoint(BaseModel):
    start: dt.datetime
    value: float
    previous_year: float | None = None
    norm: float | None = None


class ConsumptionSeries(BaseModel):
    scope: str
    id: int | None
    resource: str
    unit: str
    grain: str
    start: dt.datetime
    end: dt.datetime
    total: float
    previous_year_total: float | None
    norm_total: float | None
    residents: int
    points: list[ConsumptionPoint]


class TopConsumer(BaseModel):
    meter_id: int
    serial: str
    level: str
    building_id: int | None
    address: str | None
    total: float
    per_resident: float | None
    norm_ratio: float | None


class BalancePoint(BaseModel):
    start: dt.datetime
    supplied: float  # what the upstream meter(s) measured
    consumed: float  # sum of downstream meters
    estimated: float  # norm-based estimate for unmetered residents
    loss: float
    loss_percent: float | None


class BalanceSeries(BaseModel):
    scope: str
    id: int | None
    resource: str
    unit: str
    grain: str
    supplied: float
    consumed: float
    estimated: float
    loss: float
    loss_percent: float | None
    points: list[BalancePoint]


class DistrictLoss(BaseModel):
    district_id: int
    district: str
    supplied: float
    consumed: float
    loss: float
    loss_percent: float | None


class NormRead(BaseModel):
    resource: str
    unit: str
    per_resident_month: float
    note: str
    default: bool


class NormUpdate(Strict):
    resource: ResourceCode
    per_resident_month: float = Field(gt=0, le=100_000)
    note: str = Field(default="", max_length=300)


class SettingsRead(Read):
    auto_close: bool
    silent_after_hours: int


class SettingsUpdate(Strict):
    auto_close: bool | None = None
    silent_after_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class RefreshRequest(Strict):
    days: int = Field(default=2, ge=1, le=800)


class RefreshReport(BaseModel):
    start: dt.date
    end: dt.date
    rows: int


# --- incidents ----------------------------------------------------------------------------


class IncidentCreate(Strict):
    kind: IncidentKind
    title: str = Field(min_length=1, max_length=300)
    severity: Severity = "medium"
    building_id: int | None = Field(default=None, ge=1)
    district: str | None = Field(default=None, max_length=64)
    meter_ids: list[int] = Field(default_factory=list, max_length=1000)
    lat: float | None = Latitude
    lon: float | None = Longitude
    note: str = Field(default="", max_length=4000)


class IncidentAction(Strict):
    note: str = Field(default="", max_length=4000)


class CommentCreate(Strict):
    text: str = Field(min_length=1, max_length=4000)


class IncidentEventRead(Read):
    id: int
    at: dt.datetime
    action: str
    actor: str
    note: str
    data: dict[str, Any]


class IncidentRead(Read):
    id: int
    key: str
    kind: str
    severity: str
    status: str
    title: str
    district_id: int | None
    building_id: int | None
    group_key: str | None
    lat: float | None
    lon: float | None
    score: float
    started_at: dt.datetime
    detected_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    meter_ids: list[int] = []


class IncidentDetail(IncidentRead):
    evidence: list[dict[str, Any]]
    events: list[IncidentEventRead]
