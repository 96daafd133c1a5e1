"""How a meter looks in the city data hub: a FIWARE Smart Data Models entity.

Water meters are ``WaterConsumptionObserved`` (whose ``waterConsumption`` is the cumulative
reading, ``waterType`` hot or service water); heat, electricity and gas meters are ``Device``
with ``category: meter`` and the ``controlledProperty`` of what they measure. Every meter's
history also carries ``consumption``: the interval consumption since the previous reading."""

from __future__ import annotations

import re
from typing import Any

from qala.utilities.models import Building, Meter
from qala.utilities.resources import resource

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def entity_id_for(resource_code: str, serial: str) -> str:
    """The hub id of a new meter: ``urn:ngsi-ld:<type>:<serial>``."""
    return f"urn:ngsi-ld:{resource(resource_code).entity_type}:{_UNSAFE.sub('-', serial)}"


def _property(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def meter_entity(meter: Meter, building: Building | None, parent: Meter | None) -> dict[str, Any]:
    """The normalized NGSI-LD entity of ``meter`` (the attributes Qala owns)."""
    spec = resource(meter.resource)
    entity: dict[str, Any] = {
        "id": meter.entity_id,
        "type": spec.entity_type,
        "serialNumber": _property(meter.serial),
        "category": _property(["meter"]),
        "controlledProperty": _property([spec.controlled_property]),
        "meterLevel": _property(meter.level),
        "deviceState": _property(meter.status),
    }
    if spec.water_type:
        entity["waterType"] = _property(spec.water_type)
    if meter.installed_on is not None:
        entity["dateInstalled"] = _property(
            {"@type": "DateTime", "@value": f"{meter.installed_on.isoformat()}T00:00:00Z"}
        )
    if meter.lat is not None and meter.lon is not None:
        entity["location"] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [meter.lon, meter.lat]},
        }
    if building is not None:
        entity["address"] = _property({"streetAddress": building.address})
    if parent is not None:
        entity["refParentMeter"] = {"type": "Relationship", "object": parent.entity_id}
    return entity
