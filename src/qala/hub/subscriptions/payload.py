"""Notification payloads (§5.3.1): the changed entities rendered as the subscription asks
(format, attributes, sysAttrs, lang, pick/omit, showChanges), deleted attributes as NGSI-LD
null, and the notification envelope. Pure functions over stored entities."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.render import View, render_entity

Entity = Mapping[str, Any]
NULL = "urn:ngsi-ld:null"
#: The member holding an attribute's value, by attribute type, and its showChanges twin.
VALUE_MEMBER = {
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
}
PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "languageMap": "previousLanguageMap",
    "valueList": "previousValueList",
}


def view_of(notification: Mapping[str, Any], terms: TermMap, lang: str | None) -> View:
    """How a subscription wants entities rendered."""
    attributes = notification.get("attributes")
    pick, omit = notification.get("pick"), notification.get("omit")
    return View(
        terms=terms,
        form=notification.get("format", "normalized"),
        sys_attrs=bool(notification.get("sysAttrs", False)),
        attrs=set(attributes) if attributes is not None else None,
        lang=lang,
        pick=set(pick) | {"id", "type"} if pick is not None else None,
        omit=set(omit) if omit is not None else None,
    )


def _member(instance: Mapping[str, Any]) -> str:
    return VALUE_MEMBER.get(instance["type"], "value")


def _null_instance(
    instance: Mapping[str, Any], view: View, show_changes: bool, deleted_at: str
) -> Any:
    """A deleted attribute instance as the NGSI-LD null, in the subscription's format."""
    if view.form == "keyValues":
        return NULL
    member = _member(instance)
    out: dict[str, Any] = {"type": instance["type"], member: NULL}
    if show_changes and member in instance:
        out[PREVIOUS[member]] = instance[member]
    if "datasetId" in instance:
        out["datasetId"] = instance["datasetId"]
    if view.sys_attrs:
        out["createdAt"] = instance.get("createdAt", deleted_at)
        out["modifiedAt"] = instance.get("modifiedAt", deleted_at)
        out["deletedAt"] = deleted_at
    if view.form == "concise":
        out.pop("type")
    return out


def _wanted(iri: str, view: View) -> bool:
    if view.attrs is not None and iri not in view.attrs:
        return False
    name = view.terms.compact(iri)
    return (view.pick is None or name in view.pick) and (view.omit is None or name not in view.omit)


def _put(out: dict[str, Any], iri: str, rendered: list[Any], view: View) -> None:
    out[view.terms.compact(iri)] = rendered[0] if len(rendered) == 1 else rendered


def render_deleted_entity(
    before: Entity, view: View, show_changes: bool, now: str
) -> dict[str, Any]:
    """A deleted entity: id, type, deletedAt and its attributes as NGSI-LD null."""
    out = render_entity({**before, "attrs": {}}, view)
    out["deletedAt"] = now
    for iri, instances in before["attrs"].items():
        if _wanted(iri, view):
            _put(out, iri, [_null_instance(i, view, show_changes, now) for i in instances], view)
    return out


def _add_previous(rendered: Any, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Put the old value beside the new one (showChanges) when it changed."""
    member = _member(new)
    if not isinstance(rendered, dict) or member not in old or old.get(member) == new.get(member):
        return
    rendered[PREVIOUS[member]] = old[member]


def render_changed_entity(
    before: Entity | None, after: Entity, view: View, show_changes: bool, now: str
) -> dict[str, Any]:
    """An entity after a change, with deleted attributes as null and, on request, old values."""
    out = render_entity(after, view)
    if before is None:
        return out
    for iri, instances in before["attrs"].items():
        if iri not in after["attrs"] and _wanted(iri, view):
            _put(out, iri, [_null_instance(i, view, show_changes, now) for i in instances], view)
    if show_changes and view.form != "keyValues":
        for iri, instances in after["attrs"].items():
            old = before["attrs"].get(iri)
            name = view.terms.compact(iri)
            if old and len(old) == 1 and len(instances) == 1 and name in out:
                _add_previous(out[name], old[0], instances[0])
    return out


def envelope(subscription_id: str, data: list[dict[str, Any]], now: str) -> dict[str, Any]:
    """The notification around the entities."""
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": subscription_id,
        "notifiedAt": now,
        "data": data,
    }
