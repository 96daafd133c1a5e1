"""hub: pending roll-up deltas (history batches whose roll-ups are added later)

Revision ID: hub_0006
Revises: hub_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "hub_0006"
down_revision: str | Sequence[str] | None = "hub_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = postgresql.TIMESTAMP(timezone=True)
ARRAYS: dict[str, Any] = {
    "entity_ids": sa.String(),
    "attributes": sa.String(),
    "dataset_ids": sa.String(),
    "buckets": TIMESTAMPTZ,
    "counts": sa.Integer(),
    "numeric_counts": sa.Integer(),
    "totals": sa.Float(),
    "total_squares": sa.Float(),
    "minimums": sa.Float(),
    "maximums": sa.Float(),
    "first_ats": TIMESTAMPTZ,
    "last_ats": TIMESTAMPTZ,
}


def upgrade() -> None:
    """One row per committed history batch (and city) whose roll-ups are still to be added."""
    op.create_table(
        "hub_temporal_pending",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        *(
            sa.Column(
                name, sa.JSON().with_variant(postgresql.ARRAY(item), "postgresql"), nullable=False
            )
            for name, item in ARRAYS.items()
        ),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["core_cities.id"],
            name=op.f("fk_hub_temporal_pending_city_id_core_cities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_temporal_pending")),
    )
    op.create_index(
        op.f("ix_hub_temporal_pending_city_id"), "hub_temporal_pending", ["city_id"], unique=False
    )


def downgrade() -> None:
    """Drop the table (run ``qala hub settle`` first, or the pending deltas are lost)."""
    op.drop_index(op.f("ix_hub_temporal_pending_city_id"), table_name="hub_temporal_pending")
    op.drop_table("hub_temporal_pending")
