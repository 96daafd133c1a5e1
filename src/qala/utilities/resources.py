"""What the module meters, described as data: resources, meter levels, statuses, and how a meter
of each resource looks in the hub (FIWARE Smart Data Models)."""

from __future__ import annotations

from dataclasses import dataclass

from qala.core.i18n import _

#: NGSI-LD expands terms the core @context does not define into this vocabulary.
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
#: The interval consumption every meter's history carries (see docs/modules/utilities.md).
CONSUMPTION = "consumption"
ENTITY_PREFIX = "urn:ngsi-ld:{type}:qala-utilities-"


def iri(term: str) -> str:
    """The expanded IRI of a Qala attribute name (no @context defines these terms)."""
    return DEFAULT_VOCAB + term


@dataclass(frozen=True)
class Resource:
    """One metered resource: its unit, its norm per resident, its Smart Data Model mapping."""

    code: str
    title: str  # a msgid
    unit: str  # as shown
    unit_code: str  # UN/CEFACT common code ('' when there is none)
    entity_type: str  # Smart Data Model entity type of its meters
    index_attribute: str  # the cumulative reading the meter sends
    controlled_property: str  # Device.controlledProperty
    norm_per_resident: float  # default monthly norm per resident, in ``unit``
    norm_note: str  # a msgid: what the default norm assumes
    water_type: str = ""  # WaterConsumptionObserved.waterType


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "cold_water",
        _("Cold water"),
        "m³",
        "MTQ",
        "WaterConsumptionObserved",
        "waterConsumption",
        "waterConsumption",
        3.9,
        _("Apartment with bath and sewerage"),
        water_type="serviceWater",
    ),
    Resource(
        "hot_water",
        _("Hot water"),
        "m³",
        "MTQ",
        "WaterConsumptionObserved",
        "waterConsumption",
        "waterConsumption",
        2.7,
        _("Central hot water supply"),
        water_type="hotWater",
    ),
    Resource(
        "heat",
        _("Heat"),
        "Gcal",
        "",
        "Device",
        "index",
        "energy",
        0.45,
        _("Heating season, per resident of a typical apartment"),
    ),
    Resource(
        "electricity",
        _("Electricity"),
        "kWh",
        "KWH",
        "Device",
        "index",
        "electricityConsumption",
        70.0,
        _("Apartment without an electric stove"),
    ),
    Resource(
        "gas",
        _("Gas"),
        "m³",
        "MTQ",
        "Device",
        "index",
        "gasComsumption",  # sic: the Smart Data Models enum spells it so
        10.0,
        _("Gas stove, no gas water heater"),
    ),
)
BY_CODE = {resource.code: resource for resource in RESOURCES}
RESOURCE_CODES = tuple(BY_CODE)

#: Where a meter sits in the hierarchy: apartment → building input → district / substation.
LEVELS: dict[str, str] = {
    "apartment": _("Apartment meter"),
    "building": _("Common-house meter"),
    "district": _("District meter"),
}
LEVEL_CODES = tuple(LEVELS)
PARENT_LEVEL = {"apartment": "building", "building": "district"}

METER_STATUSES: dict[str, str] = {
    "active": _("Active"),
    "faulty": _("Faulty"),
    "inactive": _("Inactive"),
    "removed": _("Removed"),
}
METER_STATUS_CODES = tuple(METER_STATUSES)


def resource(code: str) -> Resource:
    """The resource with ``code`` (KeyError when unknown)."""
    return BY_CODE[code]
