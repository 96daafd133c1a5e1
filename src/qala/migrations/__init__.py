"""Alembic migrations: one history for every module, revisions named for their module."""
