"""Every kernel table, imported together so the metadata is complete."""

from qala.core.alerts import Alert
from qala.core.auth.models import ApiKey, AuditEntry, Membership, Token, User
from qala.core.cities import City, Department, District
from qala.core.events import OutboxEvent

__all__ = [
    "Alert",
    "ApiKey",
    "AuditEntry",
    "City",
    "Department",
    "District",
    "Membership",
    "OutboxEvent",
    "Token",
    "User",
]
