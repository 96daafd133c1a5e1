"""Delivery of queued notifications: claim the due ones, send them over HTTP or MQTT, record
the outcome on the subscription, retry with capped exponential backoff and give up after a
set number of attempts. ``deliver_due`` runs one pass; ``DeliveryWorker`` runs it in the
background (started by the app, or alone by ``qala hub notify``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import delete, func, select, update

from qala.core.db import Database, utcnow
from qala.hub.ngsild.context import CORE_CONTEXT_URL
from qala.hub.subscriptions.models import HubNotification, HubSubscription
from qala.hub.subscriptions.service import DELIVERY_WAKE, run_periodic
from qala.hub.subscriptions.transport import Claimed, send

if TYPE_CHECKING:
    from qala.core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: attempts, backoff, timeouts, and how often to look for work."""

    max_attempts: int = 10
    first_delay: float = 1.0  # seconds before the first retry; doubled each time
    max_delay: float = 300.0
    timeout: float = 5.0
    lease_seconds: float = 60.0  # a claimed notification is retried after this if the sender dies
    poll_seconds: float = 1.0
    batch: int = 100

    def delay(self, attempts: int) -> float:
        """Seconds to wait before the next attempt, after ``attempts`` failed ones."""
        return float(min(self.first_delay * 2 ** max(attempts - 1, 0), self.max_delay))


SKIPPED = "skipped"  # not sent: an earlier notification of its subscription failed


def deliver_due(
    database: Database, *, now: dt.datetime | None = None, policy: DeliveryPolicy | None = None
) -> int:
    """Queue due periodic notifications, then send every due one; returns how many were sent."""
    policy = policy or DeliveryPolicy()
    with database.session() as db:
        if run_periodic(db, now):
            db.commit()
    sent = 0
    with contextlib.ExitStack() as stack:
        client: httpx.Client | None = None  # made on first need: building one costs ms
        for _round in range(1000):
            batch, progressed = _claim(database, now or utcnow(), policy)
            outcomes: list[tuple[Claimed, str | None]] = []
            if batch and client is None:
                client = stack.enter_context(httpx.Client(timeout=policy.timeout))
            for _pk, group in groupby(batch, key=lambda item: item.subscription_pk):
                assert client is not None
                outcomes.extend(_send_in_order(list(group), client, policy))
            _record(database, outcomes, now or utcnow(), policy)
            sent += sum(error is None for _item, error in outcomes)
            if not progressed:
                break
    return sent


def _send_in_order(
    group: list[Claimed], client: httpx.Client, policy: DeliveryPolicy
) -> list[tuple[Claimed, str | None]]:
    """Send one subscription's notifications in order, stopping at the first failure."""
    outcomes: list[tuple[Claimed, str | None]] = []
    for index, item in enumerate(group):
        error = send(item, client, policy.timeout)
        outcomes.append((item, error))
        if error is not None:
            outcomes.extend((rest, SKIPPED) for rest in group[index + 1 :])
            break
    return outcomes


def _claim(
    database: Database, now: dt.datetime, policy: DeliveryPolicy
) -> tuple[list[Claimed], bool]:
    """Take due notifications, grouped by subscription and in order; a subscription's are
    taken only from its oldest pending one on, so none overtakes another being retried."""
    with database.session() as db:
        waiting = select(HubNotification.subscription_pk).where(
            HubNotification.status == "pending", HubNotification.next_attempt_at > now
        )  # subscriptions whose oldest notification is being retried or sent: they wait
        found = db.scalars(
            select(HubNotification)
            .where(HubNotification.status == "pending", HubNotification.next_attempt_at <= now)
            .where(HubNotification.subscription_pk.not_in(waiting))
            .order_by(HubNotification.id)
            .limit(policy.batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not found:
            return [], False
        rows = sorted(found, key=lambda row: (row.subscription_pk, row.id))
        pks = {row.subscription_pk for row in rows}
        head_query = (
            select(HubNotification.subscription_pk, func.min(HubNotification.id))
            .where(HubNotification.status == "pending", HubNotification.subscription_pk.in_(pks))
            .group_by(HubNotification.subscription_pk)
        )
        heads = {row[0]: row[1] for row in db.execute(head_query)}
        subscriptions = {
            s.id: s for s in db.scalars(select(HubSubscription).where(HubSubscription.id.in_(pks)))
        }
        claimed: list[Claimed] = []
        dropped = False
        for row in rows:
            subscription = subscriptions.get(row.subscription_pk)
            if subscription is None or row.id < heads.get(row.subscription_pk, row.id + 1):
                continue
            if heads[row.subscription_pk] != row.id and not _follows(claimed, row):
                continue
            # Conditional writes: a row another worker took meanwhile (SQLite has no SKIP
            # LOCKED) no longer has the attempts count we read, and is left to that worker.
            same = (HubNotification.id == row.id, HubNotification.attempts == row.attempts)
            if row.attempts == 0 and _throttled(subscription, now, claimed):
                dropped |= _changed(db.execute(delete(HubNotification).where(*same)))
                continue
            lease = now + dt.timedelta(seconds=policy.lease_seconds)
            taken = db.execute(
                update(HubNotification)
                .where(*same)
                .values(attempts=row.attempts + 1, next_attempt_at=lease)
                .execution_options(synchronize_session=False)
            )
            if _changed(taken):
                claimed.append(_claimed(row, subscription, row.attempts + 1))
        db.commit()
    return claimed, bool(claimed) or dropped


def _follows(claimed: list[Claimed], row: HubNotification) -> bool:
    """True when the notification just before ``row`` in this batch is of its subscription."""
    return bool(claimed) and claimed[-1].subscription_pk == row.subscription_pk


def _throttled(subscription: HubSubscription, now: dt.datetime, claimed: list[Claimed]) -> bool:
    """True when a new notification comes less than ``throttling`` after the last one."""
    throttling = float(subscription.data.get("throttling", 0))
    if throttling <= 0:
        return False
    if claimed and claimed[-1].subscription_pk == subscription.id:
        return True  # one notification per throttling period, even within a batch
    last = subscription.last_notification
    return last is not None and (now - last).total_seconds() < throttling


def _changed(result: Any) -> bool:
    return bool(result.rowcount == 1)


def _claimed(row: HubNotification, subscription: HubSubscription, attempts: int) -> Claimed:
    document = subscription.data
    links = subscription.notify_terms.get("links") or []
    if "jsonldContext" in document:
        context: Any = document["jsonldContext"]
        link = document["jsonldContext"]
    else:
        context = subscription.context or CORE_CONTEXT_URL
        link = links[0] if links else CORE_CONTEXT_URL
    return Claimed(
        row.id,
        row.subscription_pk,
        dict(row.payload),
        attempts,
        dict(document["notification"]["endpoint"]),
        context,
        link,
    )


def _record(
    database: Database,
    outcomes: list[tuple[Claimed, str | None]],
    now: dt.datetime,
    policy: DeliveryPolicy,
) -> None:
    """Count the attempts on their subscriptions; drop what was sent, retry or give up the
    rest; put back what was skipped. One transaction for the whole round."""
    if not outcomes:
        return
    with database.session() as db:
        for item, error in outcomes:
            if error == SKIPPED:
                db.execute(
                    update(HubNotification)
                    .where(HubNotification.id == item.id)
                    .values(attempts=item.attempts - 1, next_attempt_at=now)
                )
            elif error is None:
                db.execute(delete(HubNotification).where(HubNotification.id == item.id))
            else:
                _failed(db, item, error, now, policy)
        for pk, group in groupby(outcomes, key=lambda outcome: outcome[0].subscription_pk):
            _count(db, pk, [error for _item, error in group if error != SKIPPED])
        db.commit()


def _failed(db: Any, item: Claimed, error: str, now: dt.datetime, policy: DeliveryPolicy) -> None:
    log.info("notification %s to %s failed: %s", item.id, item.endpoint["uri"], error)
    values: dict[str, Any] = {"last_error": error}
    if item.attempts >= policy.max_attempts:
        values["status"] = "failed"  # given up: kept with its error for an operator
        log.warning("notification %s given up after %s attempts", item.id, item.attempts)
    else:
        values["next_attempt_at"] = now + dt.timedelta(seconds=policy.delay(item.attempts))
    db.execute(update(HubNotification).where(HubNotification.id == item.id).values(**values))


def _count(db: Any, subscription_pk: int, errors: list[str | None]) -> None:
    """Add a round's attempts to a subscription's counters and times."""
    if not errors:
        return
    stamp = utcnow()
    failures = sum(error is not None for error in errors)
    values: dict[str, Any] = {
        "times_sent": HubSubscription.times_sent + len(errors),
        "times_failed": HubSubscription.times_failed + failures,
        "last_notification": stamp,
        "last_status": "ok" if errors[-1] is None else "failed",
    }
    if failures < len(errors):
        values["last_success"] = stamp
    if failures:
        values["last_failure"] = stamp
    db.execute(
        update(HubSubscription).where(HubSubscription.id == subscription_pk).values(**values)
    )


class DeliveryWorker:
    """Runs ``deliver_due`` in a background thread: at once when this process commits
    notifications, and every ``poll_seconds`` for the others' and for retries."""

    def __init__(self, database: Database, policy: DeliveryPolicy | None = None) -> None:
        self.database = database
        self.policy = policy or DeliveryPolicy()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Deliver until stopped (in the calling thread)."""
        while not self._stop.is_set():
            try:
                deliver_due(self.database, policy=self.policy)
            except Exception:
                log.exception("notification delivery round failed")
            DELIVERY_WAKE.wait(self.policy.poll_seconds)
            DELIVERY_WAKE.clear()

    def start(self) -> None:
        """Run in a daemon thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="qala-hub-notify", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the current round."""
        self._stop.set()
        DELIVERY_WAKE.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None


def policy_of(settings: Any) -> DeliveryPolicy:
    """The delivery policy a deployment's settings ask for."""
    return DeliveryPolicy(
        max_attempts=settings.hub_notify_max_attempts, poll_seconds=settings.hub_notify_poll_seconds
    )


def start(runtime: Runtime) -> Callable[[], None]:
    """Start the app's delivery worker (the hub manifest's ``workers``); returns its stop."""
    worker = DeliveryWorker(runtime.database, policy_of(runtime.settings))
    worker.start()
    return worker.stop
