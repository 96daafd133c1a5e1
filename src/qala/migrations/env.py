"""Alembic environment: the metadata of every installed module, batch mode on SQLite."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from qala.core.db import Base, make_engine
from qala.core.modules import import_models

import_models()
config = context.config


def _compared_by_autogenerate(name: str | None, type_: str, _parents: object) -> bool:
    """False for the partitions of a partitioned table (``hub_temporal_instances_p202408``,
    ``..._default``): the application creates and drops them at run time, so autogenerate
    must not compare them (the partitioned parent itself is compared as usual)."""
    if type_ != "table" or not name or name in Base.metadata.tables:
        return True
    partitioned = (
        table.name
        for table in Base.metadata.tables.values()
        if table.dialect_options["postgresql"].get("partition_by")
    )
    return not any(name.startswith(f"{parent}_") for parent in partitioned)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_compared_by_autogenerate,
    )


def run() -> None:
    """Run migrations on the configured connection (or a new one from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        _configure(new_connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
