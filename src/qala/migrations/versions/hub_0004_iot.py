"""hub: IoT device groups and devices

Revision ID: hub_0004
Revises: hub_0001
Create Date: 2026-11-24 06:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import qala.core.db

revision: str = "hub_0004"
down_revision: str | None = "hub_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", qala.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", qala.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "hub_iot_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apikey", sa.String(length=256), nullable=False),
        sa.Column("resource", sa.String(length=256), nullable=False),
        sa.Column("service_path", sa.String(length=256), nullable=False),
        sa.Column("entity_type", sa.String(length=256), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["city_id"], ["core_cities.id"],
                                name=op.f("fk_hub_iot_groups_city_id_core_cities"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_iot_groups")),
        sa.UniqueConstraint("apikey", name=op.f("uq_hub_iot_groups_apikey")),
    )
    op.create_index(op.f("ix_hub_iot_groups_city_id"), "hub_iot_groups", ["city_id"])
    op.create_table(
        "hub_iot_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=256), nullable=False),
        sa.Column("apikey", sa.String(length=256), nullable=False),
        sa.Column("service_path", sa.String(length=256), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("entity_type", sa.String(length=256), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("autoprovisioned", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["city_id"], ["core_cities.id"],
                                name=op.f("fk_hub_iot_devices_city_id_core_cities"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_iot_devices")),
        sa.UniqueConstraint("apikey", "device_id",
                            name=op.f("uq_hub_iot_devices_apikey_device_id")),
    )
    op.create_index(op.f("ix_hub_iot_devices_city_id"), "hub_iot_devices", ["city_id"])
    op.create_index("ix_hub_iot_devices_city_path", "hub_iot_devices",
                    ["city_id", "service_path", "device_id"])


def downgrade() -> None:
    op.drop_index("ix_hub_iot_devices_city_path", table_name="hub_iot_devices")
    op.drop_index(op.f("ix_hub_iot_devices_city_id"), table_name="hub_iot_devices")
    op.drop_table("hub_iot_devices")
    op.drop_index(op.f("ix_hub_iot_groups_city_id"), table_name="hub_iot_groups")
    op.drop_table("hub_iot_groups")
