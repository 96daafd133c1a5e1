"""The subscription document (ETSI GS CIM 009 §5.2.12): validate a client's subscription into
stored form (attribute and type names expanded) and render it back under a client's context."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.model import check_name, check_uri, format_time, parse_time

Document = dict[str, Any]

TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = ("normalized", "keyValues", "concise", "simplified")
ENDPOINT_SCHEMES = ("http://", "https://", "mqtt://", "mqtts://")
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
TYPE_EXPRESSION = re.compile(r"[,;|()*]")
#: Members the broker sets; a client may send them back (e.g. a copy of a retrieved subscription).
READ_ONLY = frozenset({"status", "createdAt", "modifiedAt", "@context"})
NOTIFICATION_STATUS = frozenset(
    {"timesSent", "timesFailed", "lastNotification", "lastFailure", "lastSuccess", "status"}
)
KNOWN = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "scopeQ",
        "lang",
        "datasetId",
        "isActive",
        "expiresAt",
        "throttling",
        "notification",
        "jsonldContext",
        "csf",
        "temporalQ",
        "name",
    }
)


def new_subscription_id() -> str:
    """A fresh subscription id."""
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequestData(f"{field} must be a non-empty string", field=field)
    return value


def _names(value: Any, field: str, terms: TermMap) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{field} must be a non-empty list of names", field=field)
    return [terms.expand(check_name(_text(name, field))) for name in value]


def _number(value: Any, field: str, *, positive: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestData(f"{field} must be a number", field=field)
    if value < 0 or (positive and value == 0):
        raise BadRequestData(
            f"{field} must be {'above' if positive else 'at least'} zero", field=field
        )
    return value


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequestData(f"{field} must be true or false", field=field)
    return value


def parse_entity_selector(item: Any, terms: TermMap) -> dict[str, str]:
    """One ``entities`` item: a type (required), optionally an id or an idPattern."""
    if not isinstance(item, Mapping):
        raise BadRequestData("each entities item must be an object", field="entities")
    unknown = set(item) - {"id", "idPattern", "type"}
    if unknown:
        raise BadRequestData(f"unknown members in entities: {sorted(unknown)}", field="entities")
    if "type" not in item:
        raise BadRequestData("each entities item must have a type", field="entities.type")
    type_text = _text(item["type"], "entities.type")
    selector: dict[str, str] = {
        "type": type_text
        if TYPE_EXPRESSION.search(type_text)
        else terms.expand(check_name(type_text))
    }
    if "id" in item:
        selector["id"] = check_uri(item["id"], "entities.id")
    if "idPattern" in item:
        pattern = _text(item["idPattern"], "entities.idPattern")
        try:
            re.compile(pattern)
        except re.error as error:
            raise BadRequestData(
                f"entities.idPattern is not a valid regex: {error}", field="entities.idPattern"
            ) from None
        selector["idPattern"] = pattern
    return selector


def parse_endpoint(value: Any) -> dict[str, Any]:
    """``notification.endpoint``: uri (http, https, mqtt, mqtts), accept, receiverInfo, ..."""
    field = "notification.endpoint"
    if not isinstance(value, Mapping):
        raise BadRequestData(f"{field} must be an object", field=field)
    uri = check_uri(value.get("uri"), f"{field}.uri")
    if not uri.lower().startswith(ENDPOINT_SCHEMES):
        raise BadRequestData(f"{field}.uri must be an http(s) or mqtt(s) URL", field=f"{field}.uri")
    endpoint: dict[str, Any] = {"uri": uri}
    if "accept" in value:
        if value["accept"] not in ACCEPTS:
            raise BadRequestData(
                f"{field}.accept must be one of {', '.join(ACCEPTS)}", field=f"{field}.accept"
            )
        endpoint["accept"] = value["accept"]
    for member in ("receiverInfo", "notifierInfo"):
        if member in value:
            endpoint[member] = _key_values(value[member], f"{field}.{member}")
    if "timeout" in value:
        endpoint["timeout"] = _number(value["timeout"], f"{field}.timeout", positive=True)
    return endpoint


def _key_values(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(
        isinstance(item, Mapping)
        and isinstance(item.get("key"), str)
        and item["key"]
        and isinstance(item.get("value"), str)
        and set(item) == {"key", "value"}
        for item in value
    ):
        raise BadRequestData(f"{field} must be a list of {{key, value}} strings", field=field)
    return [{"key": item["key"], "value": item["value"]} for item in value]


def _format(value: Any) -> str:
    if value not in FORMATS:
        raise BadRequestData(
            "notification.format must be normalized, keyValues or concise",
            field="notification.format",
        )
    return "keyValues" if value == "simplified" else str(value)


def _members(value: Any, field: str) -> list[str]:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise BadRequestData(f"{field} must be a list of names", field=field)
    return [check_name(_text(name, field)) for name in names]


_NOTIFICATION_PARSERS: dict[str, Callable[[Any, TermMap], Any]] = {
    "attributes": lambda v, t: _names(v, "notification.attributes", t),
    "format": lambda v, t: _format(v),
    "endpoint": lambda v, t: parse_endpoint(v),
    "sysAttrs": lambda v, t: _flag(v, "notification.sysAttrs"),
    "showChanges": lambda v, t: _flag(v, "notification.showChanges"),
    "pick": lambda v, t: _members(v, "notification.pick"),
    "omit": lambda v, t: _members(v, "notification.omit"),
}


def parse_notification(value: Any, terms: TermMap, *, partial: bool = False) -> dict[str, Any]:
    """``notification``: attributes, format, endpoint, sysAttrs, showChanges, pick, omit."""
    if not isinstance(value, Mapping):
        raise BadRequestData("notification must be an object", field="notification")
    out: dict[str, Any] = {}
    for member, raw in value.items():
        if member in NOTIFICATION_STATUS:
            continue
        parser = _NOTIFICATION_PARSERS.get(member)
        if parser is None:
            raise BadRequestData(
                f"unknown member notification.{member}", field=f"notification.{member}"
            )
        out[member] = parser(raw, terms)
    if "endpoint" not in out and not partial:
        raise BadRequestData("notification.endpoint is required", field="notification.endpoint")
    if "attributes" in out and ("pick" in out or "omit" in out):
        raise BadRequestData(
            "notification.attributes cannot be used with pick or omit",
            field="notification.attributes",
        )
    if set(out.get("pick", ())) & set(out.get("omit", ())):
        raise BadRequestData(
            "a member cannot be both picked and omitted", field="notification.pick"
        )
    return out


def parse_geo_q(value: Any, terms: TermMap) -> dict[str, Any]:
    """``geoQ``: geometry, coordinates, georel and an optional geoproperty (expanded)."""
    if not isinstance(value, Mapping):
        raise BadRequestData("geoQ must be an object", field="geoQ")
    for member in ("geometry", "coordinates", "georel"):
        if member not in value:
            raise BadRequestData(f"geoQ.{member} is required", field=f"geoQ.{member}")
    geo: dict[str, Any] = {
        "geometry": _text(value["geometry"], "geoQ.geometry"),
        "coordinates": value["coordinates"],
        "georel": _text(value["georel"], "geoQ.georel"),
    }
    if not isinstance(geo["coordinates"], list | str):
        raise BadRequestData(
            "geoQ.coordinates must be an array or a string", field="geoQ.coordinates"
        )
    if "geoproperty" in value:
        name = _text(value["geoproperty"], "geoQ.geoproperty")
        geo["geoproperty"] = terms.expand(check_name(name))
    return geo


_MEMBER_PARSERS: dict[str, Callable[[Any, TermMap], Any]] = {
    "subscriptionName": lambda v, t: _text(v, "subscriptionName"),
    "name": lambda v, t: _text(v, "name"),
    "description": lambda v, t: _text(v, "description"),
    "entities": lambda v, t: [parse_entity_selector(item, t) for item in _list(v, "entities")],
    "watchedAttributes": lambda v, t: _names(v, "watchedAttributes", t),
    "notificationTrigger": lambda v, t: _triggers(v),
    "timeInterval": lambda v, t: _number(v, "timeInterval", positive=True),
    "throttling": lambda v, t: _number(v, "throttling", positive=True),
    "q": lambda v, t: _text(v, "q"),
    "scopeQ": lambda v, t: _text(v, "scopeQ"),
    "lang": lambda v, t: _text(v, "lang"),
    "csf": lambda v, t: _text(v, "csf"),
    "geoQ": parse_geo_q,
    "datasetId": lambda v, t: [check_uri(item, "datasetId") for item in _list(v, "datasetId")],
    "isActive": lambda v, t: _flag(v, "isActive"),
    "expiresAt": lambda v, t: format_time(parse_time(v, "expiresAt")),
    "notification": parse_notification,
    "jsonldContext": lambda v, t: check_uri(v, "jsonldContext"),
}


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"{field} must be a non-empty list", field=field)
    return value


def _triggers(value: Any) -> list[str]:
    triggers = _list(value, "notificationTrigger")
    unknown = [trigger for trigger in triggers if trigger not in TRIGGERS]
    if unknown:
        raise BadRequestData(f"unknown notificationTrigger {unknown}", field="notificationTrigger")
    return list(dict.fromkeys(triggers))


def parse_members(
    body: Mapping[str, Any], terms: TermMap, *, partial: bool = False
) -> tuple[Document, list[str]]:
    """Validate the members of a subscription or fragment; returns them and the nulled ones."""
    members: Document = {}
    nulled: list[str] = []
    for name, value in body.items():
        if name in READ_ONLY or name in ("id", "type"):
            continue
        if name == "temporalQ":
            raise BadRequestData("temporalQ is not supported in subscriptions", field=name)
        if name not in KNOWN:
            raise BadRequestData(f"unknown subscription member {name!r}", field=name)
        if value is None or value == "urn:ngsi-ld:null":
            nulled.append(name)
            continue
        if name == "notification":
            members[name] = parse_notification(value, terms, partial=partial)
        else:
            members[name] = _MEMBER_PARSERS[name](value, terms)
    if "type" in body and body["type"] != "Subscription":
        raise BadRequestData("type must be Subscription", field="type")
    return members, nulled


def parse_subscription(body: Any, terms: TermMap, *, now: dt.datetime) -> Document:
    """A whole new subscription in stored form, validated (q and geoQ are compiled later)."""
    if not isinstance(body, Mapping):
        raise BadRequestData("a subscription must be a JSON object", field="body")
    if body.get("type") != "Subscription":
        raise BadRequestData("type must be Subscription", field="type")
    document, _nulled = parse_members(body, terms)
    document = {
        "id": check_uri(body["id"], "id") if body.get("id") is not None else new_subscription_id(),
        "type": "Subscription",
        **document,
    }
    document.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    check_document(document, now=now, new=True)
    return document


def check_document(document: Document, *, now: dt.datetime, new: bool = False) -> None:
    """The rules between members: what must be there, and what cannot go together."""
    if "notification" not in document:
        raise BadRequestData("notification is required", field="notification")
    if "entities" not in document and "watchedAttributes" not in document:
        raise BadRequestData("give entities or watchedAttributes", field="entities")
    if "timeInterval" in document:
        if "watchedAttributes" in document:
            raise BadRequestData(
                "timeInterval cannot be used with watchedAttributes", field="timeInterval"
            )
        if "throttling" in document:
            raise BadRequestData("timeInterval cannot be used with throttling", field="throttling")
        if "entities" not in document:
            raise BadRequestData("a periodic subscription needs entities", field="entities")
    if new and "expiresAt" in document and parse_time(document["expiresAt"], "expiresAt") <= now:
        raise BadRequestData("expiresAt is in the past", field="expiresAt")


def merge_fragment(current: Document, fragment: Document, nulled: list[str]) -> Document:
    """A subscription with a PATCH fragment applied (notification members merged one level)."""
    merged = {**current}
    for name in nulled:
        if name in ("notification", "notificationTrigger"):
            raise BadRequestData(f"{name} cannot be removed", field=name)
        merged.pop(name, None)
    for name, value in fragment.items():
        if name == "notification":
            merged["notification"] = {**current.get("notification", {}), **value}
        else:
            merged[name] = value
    return merged


def status_of(is_active: bool, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """active, paused or expired."""
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active" if is_active else "paused"


def render_document(document: Document, terms: TermMap) -> Document:
    """A stored subscription's members with names compacted under ``terms``."""
    out: Document = {}
    for name, value in document.items():
        if name == "entities":
            out[name] = [_render_selector(item, terms) for item in value]
        elif name == "watchedAttributes":
            out[name] = [terms.compact(iri) for iri in value]
        elif name == "geoQ":
            out[name] = {**value}
            if "geoproperty" in value:
                out[name]["geoproperty"] = terms.compact(value["geoproperty"])
        elif name == "notification":
            out[name] = {**value}
            if "attributes" in value:
                out[name]["attributes"] = [terms.compact(iri) for iri in value["attributes"]]
        else:
            out[name] = value
    return out


def _render_selector(item: Mapping[str, str], terms: TermMap) -> dict[str, str]:
    out = dict(item)
    if not TYPE_EXPRESSION.search(item["type"]):
        out["type"] = terms.compact(item["type"])
    return out
