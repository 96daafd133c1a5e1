"""The event bus: past-tense events written to an outbox in the emitter's transaction and
delivered to the handlers modules declare, after commit, at least once and each handler once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from qala.core.db import Base, Database, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
E = TypeVar("E", bound="Event")


@dataclasses.dataclass(frozen=True)
class AlertSpec:
    """How an event shows in the situational-centre alerts feed."""

    severity: str  # "info" | "warning" | "critical"
    message: str  # a msgid (translated when shown) with {placeholders} from ``params``
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    link: str = ""


@dataclasses.dataclass(frozen=True)
class Event:
    """A fact that happened, named in the past tense (``LeakDetected``)."""

    city_id: int | None

    alert_spec: ClassVar[AlertSpec | None] = None

    @classmethod
    def name(cls) -> str:
        """The dotted path of the event class, stored in the outbox."""
        return f"{cls.__module__}:{cls.__qualname__}"

    def alert(self) -> AlertSpec | None:
        """The alert this event raises, if any; override to build one from the fields."""
        return self.alert_spec

    def payload(self) -> dict[str, Any]:
        """The event's fields as JSON-ready data."""
        return {key: _jsonable(value) for key, value in dataclasses.asdict(self).items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


Handler = Callable[[Session, Any], None]
Handlers = Mapping[type[Event], Sequence[Handler]]


class OutboxEvent(Base):
    """An emitted event waiting for (or done with) delivery."""

    __tablename__ = "core_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_handlers: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


def emit(db: Session, event: Event) -> None:
    """Record ``event`` in the caller's transaction; it is delivered only if that commits."""
    db.add(OutboxEvent(city_id=event.city_id, name=event.name(), payload=event.payload()))


def load_event(row: OutboxEvent) -> Event:
    """Rebuild the event object of an outbox row."""
    module_name, _sep, qualname = row.name.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    fields = {f.name: f.type for f in dataclasses.fields(target)}
    values = dict(row.payload)
    for key, value in values.items():
        if isinstance(value, str) and "datetime" in str(fields.get(key, "")):
            values[key] = dt.datetime.fromisoformat(value)
    event: Event = target(**values)
    return event


def _handler_key(handler: Handler) -> str:
    return f"{handler.__module__}.{getattr(handler, '__qualname__', repr(handler))}"


class EventBus:
    """Delivers outbox events to handlers, each handler in its own transaction."""

    def __init__(
        self,
        database: Database,
        handlers: Iterable[Handlers],
        every_event: Sequence[Handler] = (),
    ) -> None:
        self.database = database
        self.every_event = tuple(every_event)
        self.handlers: dict[str, list[Handler]] = {}
        for mapping in handlers:
            for event_type, funcs in mapping.items():
                self.handlers.setdefault(event_type.name(), []).extend(funcs)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_pending(self, limit: int = 200) -> int:
        """Deliver due events; returns how many were finished. Safe to run in many workers."""
        finished = 0
        for _round in range(10):  # handlers may emit events in turn
            with self.database.session() as db:
                query = (
                    select(OutboxEvent.id)
                    .where(OutboxEvent.delivered_at.is_(None))
                    .where(OutboxEvent.next_attempt_at <= utcnow())
                    .order_by(OutboxEvent.id)
                    .limit(limit)
                )
                ids = list(db.scalars(query))
            if not ids:
                break
            finished += sum(self._deliver_one(event_id) for event_id in ids)
        return finished

    def _deliver_one(self, event_id: int) -> bool:
        with self.database.session() as db:
            row = db.get(OutboxEvent, event_id, with_for_update={"skip_locked": True})
            if row is None or row.delivered_at is not None:
                return False
            try:
                event = load_event(row)
            except Exception as exc:  # noqa: BLE001 - an unloadable event is parked, not retried
                row.delivered_at, row.last_error = utcnow(), f"unloadable: {exc}"
                db.commit()
                return False
            name, done = row.name, list(row.done_handlers)
            db.commit()
        ok = True
        for handler in (*self.every_event, *self.handlers.get(name, [])):
            key = _handler_key(handler)
            if key in done:
                continue
            ok = self._run_handler(event_id, handler, key, event) and ok
        if ok:
            with self.database.session() as db:
                row = db.get(OutboxEvent, event_id)
                if row is not None:
                    row.delivered_at = utcnow()
                    db.commit()
        return ok

    def _run_handler(self, event_id: int, handler: Handler, key: str, event: Event) -> bool:
        with self.database.session() as db:
            try:
                handler(db, event)
                row = db.get(OutboxEvent, event_id)
                assert row is not None
                row.done_handlers = [*row.done_handlers, key]
                db.commit()
                return True
            except Exception as exc:
                db.rollback()
                log.exception("event handler %s failed on event %s", key, event_id)
                self._record_failure(event_id, f"{key}: {exc!r}")
                return False

    def _record_failure(self, event_id: int, error: str) -> None:
        with self.database.session() as db:
            row = db.get(OutboxEvent, event_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:2000]
            delay = min(2**row.attempts, 3600)
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
            if row.attempts >= MAX_ATTEMPTS:
                row.delivered_at = utcnow()  # parked: kept with its error for an operator
            db.commit()

    def notify(self) -> None:
        """Tell the background relay that new events were committed."""
        self._wake.set()

    def start(self, poll_seconds: float) -> None:
        """Run the relay in a background thread (one per process; safe with several)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.deliver_pending()
                except Exception:
                    log.exception("event relay round failed")
                self._wake.wait(poll_seconds)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="qala-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background relay."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
