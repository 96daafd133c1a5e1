"""One validated settings object, read from the environment (prefix ``QALA_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Language = Literal["ru", "kk", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "kk", "en")


class Settings(BaseSettings):
    """Deployment settings. Built once by the entrypoint and passed down; never a global."""

    model_config = SettingsConfigDict(env_prefix="QALA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite under var_dir.",
    )
    var_dir: Path = Field(default=Path("var"), description="Where the embedded database lives.")
    secret_key: str = Field(
        default="dev-insecure-change-me",
        min_length=16,
        description="Signs session cookies and CSRF tokens. Set it in production.",
    )
    modules: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated module names to mount; empty means every installed module.",
    )
    mqtt_url: str = Field(default="", description="mqtt://host:port of the broker; empty: none.")
    default_language: Language = "ru"
    tile_url: str = Field(
        default="",
        description="Map tile URL template ({z}/{x}/{y}); empty draws districts on a blank map.",
    )
    tile_attribution: str = ""
    session_max_age: int = Field(default=12 * 3600, gt=0, description="Seconds a sign-in lasts.")
    token_max_age: int = Field(default=30 * 24 * 3600, gt=0, description="Seconds a token lasts.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    secure_cookies: bool = False
    event_poll_seconds: float = Field(default=5.0, gt=0)
    hub_open_city: str = Field(
        default="",
        description="A sandbox city whose NGSI-LD and IoT APIs answer anonymous callers "
        "(demos, conformance suites); never set it in production.",
    )
    hub_notify_max_attempts: int = Field(
        default=10, gt=0, description="Attempts to deliver one NGSI-LD notification."
    )
    hub_notify_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the notification worker looks for work."
    )
    hub_retention_days: int = Field(
        default=0,
        ge=0,
        description="Days of attribute history the hub keeps (`qala hub prune`); "
        "0 keeps it forever. Hourly and daily roll-ups are always kept.",
    )
    debug: bool = False

    @field_validator("modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite in ``var_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'qala.sqlite3').resolve()}"
