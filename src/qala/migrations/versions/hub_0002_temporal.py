"""hub: temporal store (history partitioned by month on PostgreSQL, roll-ups, temporal entities)

Revision ID: hub_0002
Revises: hub_0001
Create Date: 2026-11-24 07:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qala.core.db

revision: str = "hub_0002"
down_revision: str | None = "hub_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
KEY = ("city_id", "entity_id", "attribute", "dataset_id")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, qala.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _key(table: str) -> list[sa.Column[Any]]:
    return [
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("attribute", sa.String(length=512), nullable=False),
        sa.Column("dataset_id", sa.String(length=512), nullable=False),
    ]


def _city_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["city_id"], ["core_cities.id"],
        name=op.f(f"fk_{table}_city_id_core_cities"), ondelete="CASCADE",
    )


def _rollup(table: str) -> None:
    op.create_table(
        table,
        *_key(table),
        _time("bucket"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("numeric_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("total_squares", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=True),
        sa.Column("maximum", sa.Float(), nullable=True),
        _time("first_at"),
        _time("last_at"),
        _city_fk(table),
        sa.PrimaryKeyConstraint(*KEY, "bucket", name=op.f(f"pk_{table}")),
    )


def upgrade() -> None:
    # On PostgreSQL the history is a table PARTITIONED BY RANGE (observed_at): monthly
    # partitions are created on demand by qala.hub.temporal.partitions, and a DEFAULT
    # partition takes any row no monthly partition covers, so nothing is ever lost.
    op.create_table(
        "hub_temporal_values",
        *_key("hub_temporal_values"),
        _time("observed_at"),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("data", JSON, nullable=True),
        _time("created_at"),
        _time("modified_at"),
        _city_fk("hub_temporal_values"),
        sa.PrimaryKeyConstraint(*KEY, "observed_at", name=op.f("pk_hub_temporal_values")),
        postgresql_partition_by="RANGE (observed_at)",
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE hub_temporal_values_default PARTITION OF hub_temporal_values DEFAULT"
        )
    _rollup("hub_temporal_hourly")
    _rollup("hub_temporal_daily")
    op.create_table(
        "hub_temporal_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("types", JSON, nullable=False),
        sa.Column("scope", JSON, nullable=True),
        _time("created_at"),
        _time("modified_at"),
        sa.Column("city_id", sa.Integer(), nullable=False),
        _city_fk("hub_temporal_entities"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_temporal_entities")),
        sa.UniqueConstraint(
            "city_id", "entity_id", name=op.f("uq_hub_temporal_entities_city_id_entity_id")
        ),
    )
    with op.batch_alter_table("hub_temporal_entities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hub_temporal_entities_city_id"), ["city_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_temporal_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_temporal_entities_city_id"))
    op.drop_table("hub_temporal_entities")
    op.drop_table("hub_temporal_daily")
    op.drop_table("hub_temporal_hourly")
    op.drop_table("hub_temporal_values")  # drops its partitions with it
