"""Subscriptions of a city: create, read, change and delete them; match every entity change
against them and queue notifications in the writer's transaction; fire periodic ones.
No HTTP, no commit."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub import service as entities
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import AlreadyExists, ResourceNotFound
from qala.hub.ngsild.model import format_time, now_iso, parse_time
from qala.hub.ngsild.render import render_entity
from qala.hub.service import Change
from qala.hub.subscriptions.document import (
    Document,
    check_document,
    merge_fragment,
    render_document,
    status_of,
)
from qala.hub.subscriptions.match import (
    Matcher,
    change_triggers,
    compile_subscription,
    is_live,
    terms_from_json,
    terms_to_json,
)
from qala.hub.subscriptions.models import HubNotification, HubSubscription
from qala.hub.subscriptions.payload import (
    envelope,
    render_changed_entity,
    render_deleted_entity,
    view_of,
)

log = logging.getLogger(__name__)
CACHE_SECONDS = 2.0  # other processes' subscription writes are seen within this time
MAX_PERIODIC_ENTITIES = 1000
#: Set when notifications were committed: wakes this process's delivery workers.
DELIVERY_WAKE = threading.Event()


@dataclass(frozen=True)
class Live:
    """A subscription as matching sees it: compiled conditions and what rendering needs."""

    pk: int
    revision: str
    subscription_id: str
    matcher: Matcher
    document: Document
    notify_terms: TermMap
    is_active: bool
    expires_at: dt.datetime | None

    @property
    def throttling(self) -> float:
        """Seconds that must pass between two notifications."""
        return float(self.document.get("throttling", 0))


@dataclass
class CitySubscriptions:
    """The change-driven subscriptions of one city, indexed by entity type."""

    loaded_at: float
    by_type: dict[str, list[Live]] = field(default_factory=dict)
    any_type: list[Live] = field(default_factory=list)

    def candidates(self, types: Iterable[str]) -> list[Live]:
        """Subscriptions that may fire for an entity of ``types``."""
        found = list(self.any_type)
        for iri in types:
            found.extend(self.by_type.get(iri, ()))
        return found


class SubscriptionCache:
    """Each city's compiled subscriptions, per process; reloaded on writes and every few
    seconds, and checked against the row before a notification is queued."""

    def __init__(self) -> None:
        self._cities: dict[int, CitySubscriptions] = {}
        self._last_queued: dict[tuple[int, str], float] = {}
        self._lock = threading.Lock()

    def invalidate(self, city_id: int | None = None) -> None:
        """Forget one city's subscriptions (or every city's)."""
        with self._lock:
            if city_id is None:
                self._cities.clear()
            else:
                self._cities.pop(city_id, None)

    def city(self, db: Session, city_id: int) -> CitySubscriptions:
        """The city's subscriptions, loaded when missing or old."""
        cached = self._cities.get(city_id)
        if cached is not None and time.monotonic() - cached.loaded_at < CACHE_SECONDS:
            return cached
        loaded = CitySubscriptions(time.monotonic())
        rows = db.scalars(
            select(HubSubscription).where(
                HubSubscription.city_id == city_id, HubSubscription.time_interval.is_(None)
            )
        )
        for row in rows:
            live = _live(row)
            if live is None:
                continue
            types = live.matcher.type_iris
            if types is None:
                loaded.any_type.append(live)
            for iri in types or ():
                loaded.by_type.setdefault(iri, []).append(live)
        with self._lock:
            self._cities[city_id] = loaded
        return loaded

    def throttled(self, live: Live) -> bool:
        """True (and nothing recorded) when the subscription notified less than throttling ago."""
        if live.throttling <= 0:
            return False
        now = time.monotonic()
        last = self._last_queued.get((live.pk, live.revision))
        if last is not None and now - last < live.throttling:
            return True
        self._last_queued[(live.pk, live.revision)] = now
        return False


CACHE = SubscriptionCache()


def _live(row: HubSubscription) -> Live | None:
    try:
        matcher = compile_subscription(row.data, terms_from_json(row.terms))
    except Exception:  # one broken subscription must not stop the others
        log.exception("subscription %s cannot be compiled; it is skipped", row.subscription_id)
        return None
    return Live(
        row.id,
        row.revision,
        row.subscription_id,
        matcher,
        row.data,
        terms_from_json(row.notify_terms),
        row.is_active,
        row.expires_at,
    )


def match_change(db: Session, change: Change, *, retry: bool = True) -> None:
    """Queue a notification for every subscription the change fires (the hub's listener)."""
    entity = change.after if change.after is not None else change.before
    if entity is None:
        return
    candidates = CACHE.city(db, change.city_id).candidates(entity["type"])
    if not candidates:
        return
    now = utcnow()
    triggers = change_triggers(change.before, change.after, change.attributes)
    for live in candidates:
        if not is_live(live.is_active, live.expires_at, now):
            continue
        try:
            fires = live.matcher.fires(entity, triggers)
        except Exception:  # a failing condition must not fail the writer
            log.exception("subscription %s failed on %s", live.subscription_id, change.entity_id)
            continue
        if not fires or CACHE.throttled(live):
            continue
        current = db.scalar(select(HubSubscription.revision).where(HubSubscription.id == live.pk))
        if current != live.revision:  # changed or deleted elsewhere: reload and look again
            CACHE.invalidate(change.city_id)
            if retry:
                match_change(db, change, retry=False)
            return
        queue_change(db, change, live)


def queue_change(db: Session, change: Change, live: Live) -> None:
    """Queue the notification of one change for one subscription (payload built now)."""
    notification = live.document["notification"]
    view = view_of(notification, live.notify_terms, live.document.get("lang"))
    show = bool(notification.get("showChanges", False))
    stamp = now_iso()
    if change.after is None:
        assert change.before is not None
        data = render_deleted_entity(change.before, view, show, stamp)
    else:
        data = render_changed_entity(change.before, change.after, view, show, stamp)
    payload = envelope(live.subscription_id, [data], stamp)
    db.add(HubNotification(city_id=change.city_id, subscription_pk=live.pk, payload=payload))
    wake_after_commit(db)


def wake_after_commit(db: Session) -> None:
    """Wake the delivery workers of this process once ``db`` commits."""
    if db.info.get("hub_wake_delivery"):
        return
    db.info["hub_wake_delivery"] = True

    def wake(session: Session) -> None:
        session.info.pop("hub_wake_delivery", None)
        DELIVERY_WAKE.set()

    event.listen(db, "after_commit", wake, once=True)


def _forget_after_transaction(db: Session, city_id: int) -> None:
    CACHE.invalidate(city_id)
    for name in ("after_commit", "after_soft_rollback"):
        event.listen(db, name, lambda *_args: CACHE.invalidate(city_id), once=True)


@dataclass(frozen=True)
class Contexts:
    """The @context a subscription was written with, and the term maps made from it."""

    context: Any  # the creator's @context (URL, list or inline object), or None
    terms: TermMap  # for names, q and geoQ
    notify_terms: TermMap  # for compacting notifications (jsonldContext, else terms)


def create_subscription(
    db: Session, city_id: int, document: Document, contexts: Contexts
) -> HubSubscription:
    """Create a subscription; AlreadyExists when the id is taken in this city."""
    compile_subscription(document, contexts.terms)
    taken = db.scalar(
        select(HubSubscription.id).where(
            HubSubscription.city_id == city_id, HubSubscription.subscription_id == document["id"]
        )
    )
    if taken is not None:
        raise AlreadyExists(f"subscription {document['id']} exists already", field="id")
    row = HubSubscription(city_id=city_id, subscription_id=document["id"])
    _store(row, document, contexts)
    db.add(row)
    db.flush()
    _forget_after_transaction(db, city_id)
    return row


def _store(row: HubSubscription, document: Document, contexts: Contexts) -> None:
    row.data = document
    row.context = contexts.context
    row.terms = terms_to_json(contexts.terms)
    row.notify_terms = terms_to_json(contexts.notify_terms)
    row.revision = str(uuid.uuid4())
    row.is_active = bool(document.get("isActive", True))
    row.expires_at = (
        parse_time(document["expiresAt"], "expiresAt") if "expiresAt" in document else None
    )
    interval = document.get("timeInterval")
    if interval != row.time_interval:
        row.time_interval = int(interval) if interval is not None else None
        row.next_run_at = utcnow() if interval is not None else None
    row.modified_at = utcnow()


def get_subscription(db: Session, city_id: int, subscription_id: str) -> HubSubscription:
    """The subscription, or ResourceNotFound."""
    row = db.scalar(
        select(HubSubscription).where(
            HubSubscription.city_id == city_id, HubSubscription.subscription_id == subscription_id
        )
    )
    if row is None:
        raise ResourceNotFound(f"no subscription {subscription_id}", field="subscriptionId")
    return row


def list_subscriptions(
    db: Session, city_id: int, limit: int, offset: int
) -> tuple[list[HubSubscription], int]:
    """A page of the city's subscriptions (oldest first) and how many there are."""
    query = select(HubSubscription).where(HubSubscription.city_id == city_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(HubSubscription.id).offset(offset).limit(limit))
    return list(rows), int(total)


def stored_contexts(row: HubSubscription) -> Contexts:
    """The contexts a subscription was last written with."""
    return Contexts(row.context, terms_from_json(row.terms), terms_from_json(row.notify_terms))


def update_subscription(
    db: Session,
    city_id: int,
    subscription_id: str,
    fragment: Document,
    nulled: list[str],
    contexts: Contexts,
) -> HubSubscription:
    """Apply a PATCH fragment, written under ``contexts``."""
    row = get_subscription(db, city_id, subscription_id)
    document = merge_fragment(row.data, fragment, nulled)
    check_document(document, now=utcnow())
    compile_subscription(document, contexts.terms)
    _store(row, document, contexts)
    _forget_after_transaction(db, city_id)
    return row


def delete_subscription(db: Session, city_id: int, subscription_id: str) -> None:
    """Delete a subscription and the notifications still queued for it."""
    row = get_subscription(db, city_id, subscription_id)
    db.delete(row)
    _forget_after_transaction(db, city_id)


def render_subscription(
    row: HubSubscription, terms: TermMap, *, sys_attrs: bool = False
) -> dict[str, Any]:
    """A subscription for a client: its members under ``terms``, status and counters."""
    out = render_document(row.data, terms)
    out["status"] = status_of(row.is_active, row.expires_at, utcnow())
    notification = out["notification"]
    if row.last_notification is not None:
        notification["timesSent"] = row.times_sent
        notification["timesFailed"] = row.times_failed
        notification["lastNotification"] = format_time(row.last_notification)
        notification["status"] = row.last_status or "ok"
    for member, moment in (("lastSuccess", row.last_success), ("lastFailure", row.last_failure)):
        if moment is not None:
            notification[member] = format_time(moment)
    if sys_attrs:
        out["createdAt"], out["modifiedAt"] = (
            format_time(row.created_at),
            format_time(row.modified_at),
        )
    return out


def run_periodic(db: Session, now: dt.datetime | None = None) -> int:
    """Queue the notifications of periodic (timeInterval) subscriptions that are due."""
    now = now or utcnow()
    rows = db.scalars(
        select(HubSubscription)
        .where(HubSubscription.next_run_at.is_not(None), HubSubscription.next_run_at <= now)
        .order_by(HubSubscription.next_run_at)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for row in rows:
        assert row.time_interval is not None
        row.next_run_at = now + dt.timedelta(seconds=row.time_interval)
        live = _live(row)
        if live is None or not is_live(row.is_active, row.expires_at, now):
            continue
        data = _matching_entities(db, row.city_id, live)
        if data:
            payload = envelope(row.subscription_id, data, now_iso())
            db.add(HubNotification(city_id=row.city_id, subscription_pk=row.id, payload=payload))
            queued += 1
    return queued


def _matching_entities(db: Session, city_id: int, live: Live) -> list[dict[str, Any]]:
    view = view_of(live.document["notification"], live.notify_terms, live.document.get("lang"))
    types = live.matcher.type_iris
    found: list[dict[str, Any]] = []
    for entity in entities.iter_entities(db, city_id, sorted(types) if types else None):
        if live.matcher.selects(entity):
            found.append(render_entity(entity, view))
            if len(found) >= MAX_PERIODIC_ENTITIES:
                break
    return found
