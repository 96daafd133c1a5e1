"""Run Alembic from code: the migrations ship inside the package (``qala:migrations``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """An Alembic config for ``url`` (or an open connection, as in tests)."""
    config = Config()
    config.set_main_option("script_location", "qala:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "heads", connection: Connection | None = None) -> None:
    """Bring the schema to ``revision``."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url, connection), revision)


def check(url: str, connection: Connection | None = None) -> None:
    """Raise when the models and the migrations disagree."""
    command.check(alembic_config(url, connection))
