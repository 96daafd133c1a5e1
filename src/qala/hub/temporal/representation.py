"""Temporal representations of entities (§4.5.7, §4.5.9, §4.5.19): every attribute as an
array of its instances (oldest first), the simplified ``temporalValues`` form ([value, time]
pairs) and the aggregated form ([value, start, end] per method). Pure: rows in, JSON out."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from qala.hub.ngsild.render import View, render_instance
from qala.hub.temporal.reading import AggregatedSeries, StoredInstance
from qala.hub.temporal.store import TemporalEntity

SIMPLIFIED_KEYS = {
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "ListProperty": "valueLists",
}


def format_instant(moment: dt.datetime) -> str:
    """ISO 8601 UTC with ``Z``; fractions of a second only when there are some."""
    utc = moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)
    if utc.microsecond and not utc.microsecond % 1000:
        return utc.isoformat(timespec="milliseconds")[:-6] + "Z"
    return utc.isoformat()[:-6] + "Z"


def entity_head(entity: TemporalEntity, view: View) -> dict[str, Any]:
    """``id``, ``type`` (and ``scope``) of a temporal entity."""
    types = [view.terms.compact(iri) for iri in entity.types]
    out: dict[str, Any] = {"id": entity.entity_id, "type": types[0] if len(types) == 1 else types}
    if entity.scope:
        out["scope"] = entity.scope[0] if len(entity.scope) == 1 else entity.scope
    return out


def _instance(row: StoredInstance, view: View) -> dict[str, Any]:
    if row.data is None and not view.sys_attrs:  # a plain number: the common case, kept fast
        out: dict[str, Any] = {"type": "Property", "value": row.exact_value()}
        if row.dataset_id:
            out["datasetId"] = row.dataset_id
    else:
        stored = row.instance()
        stored["createdAt"] = format_instant(row.created_at)
        stored["modifiedAt"] = format_instant(row.modified_at)
        out = render_instance(stored, view)
    if row.deleted:
        out["deletedAt"] = format_instant(row.observed_at)
    elif row.has_observed_at:
        out["observedAt"] = format_instant(row.observed_at)
    out["instanceId"] = row.instance_id
    return out


def _by_attribute(rows: Iterable[StoredInstance]) -> dict[str, list[StoredInstance]]:
    grouped: dict[str, list[StoredInstance]] = defaultdict(list)
    for row in rows:
        grouped[row.attribute].append(row)
    return grouped


def render_normalized(
    entity: TemporalEntity, rows: Sequence[StoredInstance], view: View, timeproperty: str
) -> dict[str, Any]:
    """The temporal representation: attribute → its instances, oldest first."""
    out = entity_head(entity, view)
    for iri, instances in _by_attribute(rows).items():
        ordered = sorted(instances, key=lambda r: (r.time(timeproperty), r.dataset_id))
        out[view.terms.compact(iri)] = [_instance(row, view) for row in ordered]
    return out


def _series(rows: Sequence[StoredInstance]) -> dict[str, list[StoredInstance]]:
    by_dataset: dict[str, list[StoredInstance]] = defaultdict(list)
    for row in rows:
        by_dataset[row.dataset_id].append(row)
    return by_dataset


def _simple(row: StoredInstance, view: View) -> Any:
    value = row.simple_value()
    kind = row.instance()["type"]
    if kind == "LanguageProperty" and isinstance(value, dict):
        if view.lang is None:
            return {"languageMap": value}
        rendered = render_instance({"type": kind, "languageMap": value}, view)
        return rendered.get("value")
    return value


def render_simplified(
    entity: TemporalEntity, rows: Sequence[StoredInstance], view: View, timeproperty: str
) -> dict[str, Any]:
    """The simplified temporal representation: ``values``/``objects``/``languageMaps`` as
    [value, time] pairs, one object per datasetId."""
    out = entity_head(entity, view)
    for iri, instances in _by_attribute(rows).items():
        objects = []
        for dataset_id, series in sorted(_series(instances).items()):
            series.sort(key=lambda r: r.time(timeproperty))
            kind = series[-1].instance()["type"]
            key = SIMPLIFIED_KEYS.get(kind, "values")
            if kind == "LanguageProperty" and view.lang is not None:
                key = "values"
            pairs = [[_simple(row, view), format_instant(row.time(timeproperty))] for row in series]
            item: dict[str, Any] = {"type": kind, key: pairs}
            if dataset_id:
                item["datasetId"] = dataset_id
            objects.append(item)
        out[view.terms.compact(iri)] = objects[0] if len(objects) == 1 else objects
    return out


def render_aggregated(
    entity: TemporalEntity,
    series: Iterable[AggregatedSeries],
    view: View,
    last_n: int | None = None,
) -> dict[str, Any]:
    """The aggregated temporal representation: per method, [value, start, end] triples."""
    out = entity_head(entity, view)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in series:
        _entity, iri, dataset_id = item.key
        body: dict[str, Any] = {"type": item.type}
        for method, periods in item.values.items():
            chosen = periods[-last_n:] if last_n else periods
            body[method] = [
                [value, format_instant(start), format_instant(end)] for value, start, end in chosen
            ]
        if dataset_id:
            body["datasetId"] = dataset_id
        grouped[view.terms.compact(iri)].append(body)
    for name, bodies in grouped.items():
        out[name] = bodies[0] if len(bodies) == 1 else bodies
    return out


def select_members(
    body: dict[str, Any], pick: Collection[str] | None, omit: Collection[str] | None
) -> dict[str, Any]:
    """Apply ``pick`` and ``omit`` to a rendered entity."""
    if pick is not None:
        body = {k: v for k, v in body.items() if k in pick}
    if omit is not None:
        body = {k: v for k, v in body.items() if k not in omit}
    return body


def group_rows(rows: Iterable[StoredInstance]) -> dict[str, list[StoredInstance]]:
    """History rows by entity id."""
    grouped: dict[str, list[StoredInstance]] = defaultdict(list)
    for row in rows:
        grouped[row.entity_id].append(row)
    return grouped


def group_series(series: Iterable[AggregatedSeries]) -> dict[str, list[AggregatedSeries]]:
    """Aggregated series by entity id."""
    grouped: dict[str, list[AggregatedSeries]] = defaultdict(list)
    for item in series:
        grouped[item.key[0]].append(item)
    return grouped
