"""Events of the utilities module (delivered by the kernel's bus after commit) and the incident
kinds they speak of. Opening, escalating and reopening an incident raise a dashboard alert."""

from __future__ import annotations

import dataclasses

from qala.core.events import AlertSpec, Event
from qala.core.i18n import _

#: Incident kind → (label, alert message with {place}).
INCIDENT_KINDS: dict[str, tuple[str, str]] = {
    "leak": (_("Leak"), _("Leak suspected: {place}")),
    "burst": (_("Burst"), _("Pipe burst suspected: {place}")),
    "outage": (_("Outage"), _("Supply outage: {place}")),
    "stuck": (_("Stuck meter"), _("Meter stuck: {place}")),
    "negative": (_("Negative reading"), _("Negative meter reading: {place}")),
    "decreasing": (_("Decreasing index"), _("Meter index decreasing: {place}")),
    "gap": (_("Data gap"), _("Meter data gap: {place}")),
    "spike": (_("Impossible spike"), _("Impossible consumption spike: {place}")),
    "reverse_flow": (_("Reverse flow / tamper"), _("Reverse flow or tampering: {place}")),
    "abnormal": (_("Abnormal consumption"), _("Abnormal consumption: {place}")),
    "silent": (_("Silent meter"), _("Meters stopped reporting: {place}")),
    "other": (_("Other"), _("Utility incident: {place}")),
}
SEVERITIES: dict[str, str] = {
    "low": _("Low"),
    "medium": _("Medium"),
    "high": _("High"),
    "critical": _("Critical"),
}
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
INCIDENT_STATUSES: dict[str, str] = {
    "open": _("New"),
    "acknowledged": _("In progress"),
    "resolved": _("Resolved"),
}
#: How an incident's severity shows in the alerts feed.
ALERT_SEVERITY = {"low": "info", "medium": "warning", "high": "critical", "critical": "critical"}


@dataclasses.dataclass(frozen=True)
class IncidentOpened(Event):
    """An incident was opened (or reopened) — by detection or by an operator."""

    incident_id: int = 0
    city_slug: str = ""
    kind: str = "other"
    severity: str = "medium"
    place: str = ""

    def alert(self) -> AlertSpec | None:
        """Every new incident shows in the feed, linked to the utilities page."""
        message = INCIDENT_KINDS.get(self.kind, INCIDENT_KINDS["other"])[1]
        return AlertSpec(
            severity=ALERT_SEVERITY.get(self.severity, "warning"),
            message=str.__str__(message),
            params={"place": self.place},
            link=f"/c/{self.city_slug}/utilities?incident={self.incident_id}",
        )


@dataclasses.dataclass(frozen=True)
class IncidentEscalated(IncidentOpened):
    """An open incident's severity rose (a merged finding was worse)."""


@dataclasses.dataclass(frozen=True)
class IncidentResolved(Event):
    """An incident was resolved, by an operator or automatically when the signal cleared."""

    incident_id: int = 0
    automatically: bool = False
