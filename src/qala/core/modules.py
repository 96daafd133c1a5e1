"""The module registry: one ``Module`` manifest per module, and the ordered installed list."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from qala.core.cities import CityContext

#: Every module of this codebase, in dependency order. The schema always covers all of them;
#: ``QALA_MODULES`` and each city's switch decide what is mounted and shown.
INSTALLED: tuple[str, ...] = (
    "web",
    "hub",
    "demo",
    "utilities",
)


@dataclass(frozen=True)
class Module:
    """A module's manifest: what it owns, as dotted references resolved when wiring."""

    name: str  # == folder == /api/<name> == `qala <name>` == table prefix
    title: str
    requires: tuple[str, ...] = ()
    models: str | None = None
    api: str | None = None
    mounts: Mapping[str, str] = field(default_factory=dict)
    pages: str | None = None
    tiles: str | None = None
    cli: str | None = None
    demo: str | None = None
    handlers: str | None = None
    workers: str | None = None  # "pkg.mod:start": start(runtime) -> stop, run in the lifespan
    city_switchable: bool = True  # False: the module cannot be switched off for one city

    def load(self, attribute: str) -> Any:
        """Resolve one of this manifest's references (``models``, ``api``, ...), or None."""
        reference = getattr(self, attribute)
        return resolve(reference) if reference else None


@dataclass(frozen=True)
class TileData:
    """What a tile shows right now."""

    value: str | int | float
    unit: str = ""
    caption: str = ""
    severity: str = "ok"  # ok | warning | critical
    series: Sequence[float] = ()


@dataclass(frozen=True)
class Tile:
    """A situational-centre tile a module contributes: a small declared contract."""

    key: str  # "<module>.<what>", unique
    title: str
    data: Callable[[Session, CityContext], TileData]
    link: str = ""  # relative to the city's dashboard, e.g. "appeals?status=overdue"
    public: bool = False  # shown on the citizen page too
    order: int = 100


def resolve(reference: str) -> Any:
    """Import ``package.module`` or ``package.module:attribute``."""
    module_name, _sep, attribute = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        target = getattr(target, part)
    return target


def installed_modules() -> list[Module]:
    """The manifests of every installed module, in order."""
    manifests = [resolve(f"qala.{name}:module") for name in INSTALLED]
    for manifest, name in zip(manifests, INSTALLED, strict=True):
        if not isinstance(manifest, Module) or manifest.name != name:
            raise RuntimeError(f"qala.{name} must declare `module = Module(name={name!r}, ...)`")
    return manifests


def enabled_modules(selected: Sequence[str]) -> list[Module]:
    """The installed modules this deployment mounts (all when ``selected`` is empty)."""
    modules = installed_modules()
    if not selected:
        return modules
    known = {module.name for module in modules}
    unknown = sorted(set(selected) - known)
    if unknown:
        raise ValueError(f"QALA_MODULES names unknown modules: {', '.join(unknown)}")
    chosen = set(selected)
    for module in modules:  # a chosen module brings what it requires
        if module.name in chosen:
            chosen.update(module.requires)
    return [module for module in modules if module.name in chosen]


def import_models() -> None:
    """Import every installed module's tables so the metadata (and Alembic) sees them."""
    import qala.core.models  # noqa: F401 - the kernel's own tables

    for module in installed_modules():
        module.load("models")


def tiles_of(modules: Sequence[Module]) -> list[Tile]:
    """All tiles contributed by ``modules``, in display order."""
    tiles: list[Tile] = []
    for module in modules:
        tiles.extend(module.load("tiles") or ())
    return sorted(tiles, key=lambda tile: (tile.order, tile.key))


def handlers_of(modules: Sequence[Module]) -> list[Mapping[Any, Any]]:
    """The event handler maps of ``modules``."""
    return [module.load("handlers") for module in modules if module.handlers]
