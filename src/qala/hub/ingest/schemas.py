"""Shapes of the provisioning API (FIWARE IoT Agent ``/iot/services`` and ``/iot/devices``):
validated with pydantic; unknown FIWARE fields are kept as given."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: apikeys and device ids are MQTT topic levels: no separators, wildcards or spaces.
TOPIC_LEVEL = r"^[^/+#\s]+$"


class AttributeIn(BaseModel):
    """An active attribute: measured key (object_id) → entity attribute (name, type)."""

    model_config = ConfigDict(extra="allow")

    object_id: str | None = Field(default=None, min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=256)
    type: str = Field(default="Property", min_length=1, max_length=64)
    metadata: dict[str, Any] | None = None


class StaticAttributeIn(BaseModel):
    """An attribute every entity of the group or device carries as is."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=256)
    type: str = Field(default="Property", min_length=1, max_length=64)
    value: Any
    metadata: dict[str, Any] | None = None


class CommandIn(BaseModel):
    """A command (stored for FIWARE compatibility; Qala does not send commands yet)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=256)
    type: str = "command"


class Mappings(BaseModel):
    """The attribute lists groups and devices share."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    attributes: list[AttributeIn] = Field(default_factory=list)
    static_attributes: list[StaticAttributeIn] = Field(default_factory=list)
    lazy: list[AttributeIn] = Field(default_factory=list)
    commands: list[CommandIn] = Field(default_factory=list)

    @field_validator("explicitAttrs", mode="before", check_fields=False)
    @classmethod
    def _plain_explicit(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value is not None and not isinstance(value, bool):
            raise ValueError("explicitAttrs must be true or false (expressions are not supported)")
        return value


class GroupIn(Mappings):
    """A device group ("service"): its apikey and the entity type of its devices."""

    apikey: str = Field(min_length=1, max_length=256, pattern=TOPIC_LEVEL)
    entity_type: str = Field(min_length=1, max_length=256)
    resource: str = Field(default="/iot/json", min_length=1, max_length=256)
    explicitAttrs: bool = False  # noqa: N815 - the FIWARE field name
    autoprovision: bool = True
    timestamp: bool | None = None

    @classmethod
    def from_fiware(cls, body: dict[str, Any]) -> GroupIn:
        """Validate a group document (``type`` is an old name of ``entity_type``)."""
        if "entity_type" not in body and "type" in body:
            body = {**body, "entity_type": body["type"]}
        return cls.model_validate(body)


class DeviceIn(Mappings):
    """A device and the entity it feeds."""

    device_id: str = Field(min_length=1, max_length=256, pattern=TOPIC_LEVEL)
    entity_name: str | None = Field(default=None, min_length=1, max_length=512)
    entity_type: str | None = Field(default=None, min_length=1, max_length=256)
    apikey: str | None = Field(default=None, min_length=1, max_length=256, pattern=TOPIC_LEVEL)
    protocol: str | None = None
    transport: str | None = None
    timezone: str | None = None
    explicitAttrs: bool | None = None  # noqa: N815 - the FIWARE field name


#: Fields a PUT may not change (they tie the device to its entity and group).
FIXED_DEVICE_FIELDS = ("device_id", "entity_name", "entity_type", "apikey")
