"""Tables of NGSI-LD subscriptions and of the durable queue of their notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qala.core.db import Base, CityOwned, JsonDocument, utcnow


class HubSubscription(CityOwned, Base):
    """One NGSI-LD subscription of a city, in stored form (names expanded), with its counters."""

    __tablename__ = "hub_subscriptions"
    __table_args__ = (UniqueConstraint("city_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(512))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # The creator's @context (for notifications) and its processed term map (for q, geoQ and
    # compaction), so matching and delivery never fetch a context.
    context: Mapped[Any] = mapped_column(JsonDocument, default=None, nullable=True)
    terms: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    notify_terms: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    revision: Mapped[str] = mapped_column(String(36))  # changes on every write (cache check)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    time_interval: Mapped[int | None] = mapped_column(Integer, default=None)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(default=None, index=True)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    times_failed: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str | None] = mapped_column(String(16), default=None)  # ok | failed
    last_notification: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_success: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_failure: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HubNotification(CityOwned, Base):
    """A notification waiting to be sent (or given up), with its payload built at change time."""

    __tablename__ = "hub_notifications"
    __table_args__ = (
        Index("ix_hub_notifications_due", "status", "next_attempt_at"),
        Index("ix_hub_notifications_subscription", "subscription_pk", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_pk: Mapped[int] = mapped_column(
        ForeignKey("hub_subscriptions.id", ondelete="CASCADE")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
