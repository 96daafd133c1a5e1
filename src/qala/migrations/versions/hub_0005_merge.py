"""hub: join the temporal, subscriptions and IoT branches into one history

Revision ID: hub_0005
Revises: hub_0002, hub_0003, hub_0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

revision: str = "hub_0005"
down_revision: str | Sequence[str] | None = ("hub_0002", "hub_0003", "hub_0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches only meet here."""


def downgrade() -> None:
    """Nothing to change."""
