"""What a running deployment holds: settings, database, event bus, modules and tiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qala.core.db import Database
from qala.core.events import EventBus
from qala.core.modules import Module, Tile
from qala.settings import Settings

if TYPE_CHECKING:
    from jinja2 import Environment


@dataclass
class Runtime:
    """Built once by ``create_app`` and kept on ``app.state.qala``; never a global."""

    settings: Settings
    database: Database
    bus: EventBus
    modules: list[Module]
    tiles: list[Tile] = field(default_factory=list)
    templates: Environment | None = None
    inline_events: bool = False  # deliver events in the request after commit (tests, CLI)

    def module_names(self) -> list[str]:
        """Names of the mounted modules."""
        return [module.name for module in self.modules]
