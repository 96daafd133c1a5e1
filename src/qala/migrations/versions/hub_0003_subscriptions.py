"""hub: NGSI-LD subscriptions and the queue of their notifications

Revision ID: hub_0003
Revises: hub_0001
Create Date: 2026-11-24 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qala.core.db

revision: str = "hub_0003"
down_revision: str | None = "hub_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = qala.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=512), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("context", JSON, nullable=True),
        sa.Column("terms", JSON, nullable=False),
        sa.Column("notify_terms", JSON, nullable=False),
        sa.Column("revision", sa.String(length=36), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("time_interval", sa.Integer(), nullable=True),
        sa.Column("next_run_at", TIME, nullable=True),
        sa.Column("times_sent", sa.Integer(), nullable=False),
        sa.Column("times_failed", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_notification", TIME, nullable=True),
        sa.Column("last_success", TIME, nullable=True),
        sa.Column("last_failure", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("modified_at", TIME, nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["core_cities.id"],
            name=op.f("fk_hub_subscriptions_city_id_core_cities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_subscriptions")),
        sa.UniqueConstraint(
            "city_id", "subscription_id", name=op.f("uq_hub_subscriptions_city_id_subscription_id")
        ),
    )
    with op.batch_alter_table("hub_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_subscriptions_city_id"), ["city_id"])
        batch_op.create_index(batch_op.f("ix_hub_subscriptions_next_run_at"), ["next_run_at"])

    op.create_table(
        "hub_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_pk", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["core_cities.id"],
            name=op.f("fk_hub_notifications_city_id_core_cities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_pk"],
            ["hub_subscriptions.id"],
            name=op.f("fk_hub_notifications_subscription_pk_hub_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_notifications")),
    )
    with op.batch_alter_table("hub_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hub_notifications_city_id"), ["city_id"])
        batch_op.create_index("ix_hub_notifications_due", ["status", "next_attempt_at"])
        batch_op.create_index(
            "ix_hub_notifications_subscription", ["subscription_pk", "status", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("hub_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_hub_notifications_subscription")
        batch_op.drop_index("ix_hub_notifications_due")
        batch_op.drop_index(batch_op.f("ix_hub_notifications_city_id"))
    op.drop_table("hub_notifications")
    with op.batch_alter_table("hub_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hub_subscriptions_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_hub_subscriptions_city_id"))
    op.drop_table("hub_subscriptions")
