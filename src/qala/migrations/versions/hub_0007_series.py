"""hub: history and roll-ups keyed by series numbers (ADR 11)

Revision ID: hub_0007
Revises: hub_0006
Create Date: 2026-11-24

A series (city, entity, attribute, datasetId) gets a number in ``hub_temporal_series``; history
moves from ``hub_temporal_values`` (keyed by the three IRIs) to ``hub_temporal_instances``
(keyed by series number and time), and both roll-ups are rebuilt, keyed by series number, from
the history (pending deltas are dropped: the rebuild counts every row).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qala.core.db

revision: str = "hub_0007"
down_revision: str | Sequence[str] | None = "hub_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMPTZ = postgresql.TIMESTAMP(timezone=True)
FIGURES = (
    "count, numeric_count, total, total_squares, minimum, maximum, first_at, last_at"
)


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, qala.core.db.UTCDateTime(timezone=True), nullable=nullable)


def _city_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["city_id"],
        ["core_cities.id"],
        name=op.f(f"fk_{table}_city_id_core_cities"),
        ondelete="CASCADE",
    )


def _rollup(table: str) -> None:
    op.create_table(
        table,
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
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
        sa.PrimaryKeyConstraint("series_id", "bucket", name=op.f(f"pk_{table}")),
    )


def _bucket(grain: str, postgres: bool) -> str:
    if postgres:
        return f"date_trunc('{grain}', observed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    pattern = "%Y-%m-%d %H:00:00.000000" if grain == "hour" else "%Y-%m-%d 00:00:00.000000"
    return f"strftime('{pattern}', observed_at)"


def _pending(arrays: dict[str, Any]) -> None:
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
            for name, item in arrays.items()
        ),
        sa.Column("city_id", sa.Integer(), nullable=False),
        _city_fk("hub_temporal_pending"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_temporal_pending")),
    )
    op.create_index(
        op.f("ix_hub_temporal_pending_city_id"), "hub_temporal_pending", ["city_id"], unique=False
    )


FIGURE_ARRAYS: dict[str, Any] = {
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
    """Number the series, move the history, rebuild the roll-ups."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "hub_temporal_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("attribute", sa.String(length=512), nullable=False),
        sa.Column("dataset_id", sa.String(length=512), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        _city_fk("hub_temporal_series"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_temporal_series")),
        sa.UniqueConstraint(
            "city_id",
            "entity_id",
            "attribute",
            "dataset_id",
            name=op.f("uq_hub_temporal_series_city_id_entity_id_attribute_dataset_id"),
        ),
    )
    op.create_index(
        op.f("ix_hub_temporal_series_city_id"), "hub_temporal_series", ["city_id"], unique=False
    )
    op.execute(
        "INSERT INTO hub_temporal_series (city_id, entity_id, attribute, dataset_id) "
        "SELECT DISTINCT city_id, entity_id, attribute, dataset_id FROM hub_temporal_values"
    )
    # History rows carry no foreign keys (series.py says why); PARTITIONED as before.
    op.create_table(
        "hub_temporal_instances",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        _time("observed_at"),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("data", JSON, nullable=True),
        _time("created_at"),
        _time("modified_at"),
        sa.PrimaryKeyConstraint("series_id", "observed_at", name=op.f("pk_hub_temporal_instances")),
        postgresql_partition_by="RANGE (observed_at)",
    )
    if postgres:
        op.execute(
            "CREATE TABLE hub_temporal_instances_default "
            "PARTITION OF hub_temporal_instances DEFAULT"
        )
    op.execute(
        "INSERT INTO hub_temporal_instances (series_id, city_id, observed_at, kind, value, data, "
        "created_at, modified_at) "
        "SELECT s.id, v.city_id, v.observed_at, v.kind, v.value, v.data, v.created_at, "
        "v.modified_at FROM hub_temporal_values v JOIN hub_temporal_series s "
        "ON s.city_id = v.city_id AND s.entity_id = v.entity_id "
        "AND s.attribute = v.attribute AND s.dataset_id = v.dataset_id"
    )
    op.drop_table("hub_temporal_values")  # with its partitions
    op.drop_index(op.f("ix_hub_temporal_pending_city_id"), table_name="hub_temporal_pending")
    op.drop_table("hub_temporal_pending")
    _pending({"series_ids": sa.Integer(), **FIGURE_ARRAYS})
    for table, grain in (("hub_temporal_hourly", "hour"), ("hub_temporal_daily", "day")):
        op.drop_table(table)
        _rollup(table)
        bucket = _bucket(grain, postgres)
        op.execute(
            f"INSERT INTO {table} (series_id, city_id, bucket, {FIGURES}) "  # noqa: S608
            f"SELECT series_id, city_id, {bucket}, count(*), count(value), "
            "coalesce(sum(value), 0), coalesce(sum(value * value), 0), min(value), max(value), "
            "min(observed_at), max(observed_at) FROM hub_temporal_instances "
            "WHERE kind & 3 <> 2 GROUP BY 1, 2, 3"
        )


def downgrade() -> None:
    """Back to rows keyed by IRIs; the roll-ups come back empty (``qala hub`` rebuilds none)."""
    raise NotImplementedError(
        "hub_0007 cannot be undone in place: restore the backup taken before upgrading"
    )
