"""The situational-centre alerts feed, filled by the event bus from events that raise alerts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from qala.core.db import Base, utcnow
from qala.core.errors import NotFound
from qala.core.events import Event
from qala.core.i18n import _, gettext

SEVERITIES = ("info", "warning", "critical")


class Alert(Base):
    """One entry of a city's alerts feed — оповещение / ескерту."""

    __tablename__ = "core_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[int] = mapped_column(
        ForeignKey("core_cities.id", ondelete="CASCADE"), index=True
    )
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(500))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(500), default="")
    event_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("core_users.id", ondelete="SET NULL"), default=None
    )

    def text(self) -> str:
        """The alert's message in the current language."""
        return gettext(self.message, **self.params)


def record_alert(db: Session, event: Event) -> None:
    """Event-bus handler run for every event: store the alert the event raises, if any."""
    spec = event.alert()
    if spec is None or event.city_id is None:
        return
    db.add(
        Alert(
            city_id=event.city_id,
            severity=spec.severity,
            message=spec.message,
            params=dict(spec.params),
            link=spec.link,
            event_name=event.name(),
        )
    )


def list_alerts(db: Session, city_id: int, after_id: int = 0, limit: int = 50) -> list[Alert]:
    """The newest alerts of a city (only those after ``after_id`` when polling)."""
    query = (
        select(Alert)
        .where(Alert.city_id == city_id, Alert.id > after_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return list(db.scalars(query))


def acknowledge_alert(db: Session, city_id: int, alert_id: int, user_id: int | None) -> Alert:
    """Mark an alert as seen by an operator (``user_id`` None: by a device or integration key)."""
    alert = db.scalar(select(Alert).where(Alert.id == alert_id, Alert.city_id == city_id))
    if alert is None:
        raise NotFound(str(_("There is no alert number {number}.", number=alert_id)))
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = utcnow(), user_id
    return alert
