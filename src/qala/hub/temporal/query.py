"""The NGSI-LD temporal query (§4.11, §5.2.21): timerel / timeAt / endTimeAt / timeproperty /
lastN, and the representation asked for (normalized, temporalValues, aggregatedValues with
aggrMethods and aggrPeriodDuration). Read from URL parameters or a ``temporalQ`` object; every
mistake is a BadRequestData naming the parameter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from qala.hub.ngsild.errors import BadRequestData
from qala.hub.temporal.aggregate import METHODS, Duration, parse_duration
from qala.hub.temporal.reading import TIME_PROPERTIES, Window

TIMERELS = ("before", "after", "between")
#: A DateTime as §4.6.3 mandates: a date, ``T`` and a time; a bare date is not one.
DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
FORMS = {
    "normalized": "normalized",
    "concise": "normalized",
    "temporalValues": "temporalValues",
    "simplified": "temporalValues",
    "keyValues": "temporalValues",
    "aggregatedValues": "aggregatedValues",
}
OPTIONS = frozenset({*FORMS, "sysAttrs"})


@dataclass(frozen=True)
class TemporalQuery:
    """Which instances: a time relation on one temporal property, and at most the last N."""

    timerel: str | None = None
    time_at: dt.datetime | None = None
    end_time_at: dt.datetime | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None

    @property
    def window(self) -> Window:
        """The time window: before is exclusive, after inclusive, between is [timeAt, end)."""
        if self.timerel == "before":
            return Window(None, self.time_at, self.timeproperty)
        if self.timerel == "after":
            return Window(self.time_at, None, self.timeproperty)
        if self.timerel == "between":
            return Window(self.time_at, self.end_time_at, self.timeproperty)
        return Window(timeproperty=self.timeproperty)


@dataclass(frozen=True)
class Representation:
    """How to render: ``normalized``, ``temporalValues`` or ``aggregatedValues``."""

    form: str = "normalized"
    sys_attrs: bool = False
    methods: tuple[str, ...] = ()
    duration: Duration = field(default_factory=Duration)


def parse_datetime(value: Any, field: str) -> dt.datetime:
    """A DateTime parameter (timezone-aware; without a zone it is UTC)."""
    if not isinstance(value, str) or not DATETIME.match(value.strip()):
        raise BadRequestData(
            f"{field} must be a DateTime such as 2024-08-01T12:00:00Z, got {value!r}", field=field
        )
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("z", "Z").replace(",", "."))
    except ValueError:
        raise BadRequestData(f"{field} is not a valid DateTime: {value!r}", field=field) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _last_n(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise BadRequestData(f"lastN must be a positive integer, got {value!r}", field="lastN")
    number = int(value)
    if number < 1:
        raise BadRequestData("lastN must be a positive integer", field="lastN")
    return number


def parse_temporal_query(params: Mapping[str, Any]) -> TemporalQuery:
    """Read timerel, timeAt, endTimeAt, timeproperty and lastN."""
    timerel = params.get("timerel") or None
    time_at_text = params.get("timeAt") or None
    end_text = params.get("endTimeAt") or None
    if timerel is not None and timerel not in TIMERELS:
        raise BadRequestData(
            f"timerel must be before, after or between, not {timerel!r}", field="timerel"
        )
    if timerel is None and (time_at_text or end_text):
        raise BadRequestData("timeAt and endTimeAt need timerel", field="timerel")
    if timerel is not None and time_at_text is None:
        raise BadRequestData(f"timerel={timerel} needs timeAt", field="timeAt")
    time_at = parse_datetime(time_at_text, "timeAt") if time_at_text else None
    end_time_at = None
    if timerel == "between":
        if end_text is None:
            raise BadRequestData("timerel=between needs endTimeAt", field="endTimeAt")
        end_time_at = parse_datetime(end_text, "endTimeAt")
        if time_at is not None and end_time_at <= time_at:
            raise BadRequestData("endTimeAt must be after timeAt", field="endTimeAt")
    timeproperty = params.get("timeproperty") or params.get("timeProperty") or "observedAt"
    if timeproperty not in TIME_PROPERTIES:
        raise BadRequestData(
            f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}", field="timeproperty"
        )
    return TemporalQuery(timerel, time_at, end_time_at, timeproperty, _last_n(params.get("lastN")))


def _words(value: Any) -> list[str]:
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    words: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise BadRequestData(
                f"expected a comma-separated list of names, got {item!r}", field="aggrMethods"
            )
        words.extend(part.strip() for part in item.split(",") if part.strip())
    return words


def parse_representation(
    options: Iterable[str], format_: str | None, methods: Any, period: Any
) -> Representation:
    """Read ``options``/``format`` with aggrMethods and aggrPeriodDuration; aggrMethods alone
    asks for the aggregated representation too."""
    words = {part.strip() for raw in options for part in raw.split(",") if part.strip()}
    unknown = words - OPTIONS
    if unknown:
        raise BadRequestData(f"unknown options: {', '.join(sorted(unknown))}", field="options")
    if format_ is not None and format_ not in FORMS:
        raise BadRequestData(f"unknown format {format_!r}", field="format")
    chosen = [FORMS[w] for w in ("aggregatedValues", "temporalValues") if w in words]
    form = FORMS[format_] if format_ else (chosen[0] if chosen else "normalized")
    if methods not in (None, "", []) and form == "normalized" and not format_:
        form = "aggregatedValues"
    if form != "aggregatedValues":
        return Representation(form, "sysAttrs" in words)
    names = _words(methods) if methods not in (None, "") else []
    if not names:
        raise BadRequestData("aggregatedValues needs aggrMethods", field="aggrMethods")
    unknown = set(names) - set(METHODS)
    if unknown:
        raise BadRequestData(
            f"unknown aggrMethods: {', '.join(sorted(unknown))}", field="aggrMethods"
        )
    duration = Duration()
    if period not in (None, ""):
        if not isinstance(period, str):
            raise BadRequestData("aggrPeriodDuration must be a string", field="aggrPeriodDuration")
        try:
            duration = parse_duration(period)
        except ValueError as error:
            raise BadRequestData(str(error), field="aggrPeriodDuration") from None
    return Representation(form, "sysAttrs" in words, tuple(dict.fromkeys(names)), duration)
