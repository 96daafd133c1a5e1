"""Provisioned groups and devices (FIWARE documents) compiled into the device profiles that
map measurements: attribute rules by object_id, static attributes, entity id and type. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qala.hub.ingest.convert import MeasureError, check_attribute_name, converter_for
from qala.hub.ingest.measure import AttributeRule, DeviceProfile

Document = Mapping[str, Any]


def default_entity_id(entity_type: str, device_id: str) -> str:
    """The entity of an autoprovisioned device: ``urn:ngsi-ld:<entity_type>:<device_id>``."""
    return f"urn:ngsi-ld:{entity_type}:{device_id}"


def compile_profile(
    city_id: int,
    group: Document,
    device: Document | None,
    device_id: str,
    expand: Callable[[str], str],
    clock: list[int] | None = None,
) -> DeviceProfile:
    """The profile of ``device_id`` in ``group`` (``device`` is None when not provisioned)."""
    device = device or {}
    entity_type = device.get("entity_type") or group["entity_type"]
    entity_id = device.get("entity_name") or default_entity_id(entity_type, device_id)
    rules: dict[str, AttributeRule] = {}
    for source in (group, device):
        rules.update(compile_rules(source.get("attributes") or (), expand, "attributes"))
    static: dict[str, list[dict[str, Any]]] = {}
    for source in (group, device):
        static.update(compile_static(source.get("static_attributes") or (), expand))
    explicit = device.get("explicitAttrs")
    if explicit is None:
        explicit = group.get("explicitAttrs", False)
    return DeviceProfile(
        city_id=city_id,
        apikey=str(group["apikey"]),
        device_id=device_id,
        entity_id=entity_id,
        entity_types=(expand(entity_type),),
        rules=rules,
        static=static,
        explicit=bool(explicit),
        expand=expand,
        clock=clock if clock is not None else [0],
    )


def compile_rules(
    attributes: Sequence[Document], expand: Callable[[str], str], where: str
) -> dict[str, AttributeRule]:
    """Attribute rules keyed by the measured name (object_id, else the attribute name)."""
    rules: dict[str, AttributeRule] = {}
    for index, attribute in enumerate(attributes):
        name = _named(attribute, f"{where}[{index}].name")
        unit, sub = metadata_of(attribute.get("metadata"), expand, f"{where}[{index}].metadata")
        key = attribute.get("object_id") or name
        rules[key] = AttributeRule(
            iri=expand(name),
            name=name,
            convert=converter_for(attribute.get("type")),
            unit=unit,
            sub=sub or None,
        )
    return rules


def compile_static(
    attributes: Sequence[Document], expand: Callable[[str], str]
) -> dict[str, list[dict[str, Any]]]:
    """Static attributes as stored instances (IRI → [instance])."""
    static: dict[str, list[dict[str, Any]]] = {}
    for index, attribute in enumerate(attributes):
        where = f"static_attributes[{index}]"
        name = _named(attribute, f"{where}.name")
        if attribute.get("value") is None:
            raise MeasureError(f"{where}.value", f"static attribute {name} has no value")
        try:
            instance = converter_for(attribute.get("type"))(name, attribute["value"])
        except MeasureError as error:
            raise MeasureError(f"{where}.value", error.reason) from None
        unit, sub = metadata_of(attribute.get("metadata"), expand, f"{where}.metadata")
        if unit is not None:
            instance["unitCode"] = unit
        if sub:
            instance["sub"] = sub
        static[expand(name)] = [instance]
    return static


def _named(attribute: Document, field: str) -> str:
    try:
        return check_attribute_name(str(attribute["name"]))
    except MeasureError as error:
        raise MeasureError(field, error.reason) from None


def metadata_of(
    metadata: Any, expand: Callable[[str], str], where: str
) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """``unitCode`` and the other metadata (as sub-properties) of a provisioned attribute."""
    if metadata is None:
        return None, {}
    if not isinstance(metadata, Mapping):
        raise MeasureError(where, "metadata must be an object")
    unit: str | None = None
    sub: dict[str, dict[str, Any]] = {}
    for key, item in metadata.items():
        value = item.get("value") if isinstance(item, Mapping) and "value" in item else item
        if key == "unitCode":
            if not isinstance(value, str) or not value:
                raise MeasureError(f"{where}.unitCode", "unitCode must be a text code, e.g. CEL")
            unit = value
            continue
        _named({"name": key}, f"{where}.{key}")
        sub[expand(key)] = {"type": "Property", "value": value}
    return unit, sub
