"""Every module's manifest keeps the house rules: the checker that keeps modules alike."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import typer
from fastapi import APIRouter
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from qala.core.db import Base
from qala.core.events import Event
from qala.core.modules import INSTALLED, Module, Tile, enabled_modules, installed_modules
from qala.core.scaffold import new_module

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "qala"
#: Kernel tables that belong to the platform rather than to one city, and why.
PLATFORM_TABLES = {
    "core_cities": "the tenants themselves",
    "core_users": "a person may hold roles in several cities (core_memberships carries city_id)",
    "core_tokens": "sign-in sessions and bearer tokens belong to a user, not a city",
    "core_outbox": "carries a nullable city_id: some events are platform-wide",
    "core_audit": "carries a nullable city_id: sign-ins are not about one city",
    "hub_contexts": "JSON-LD @contexts are vocabularies shared by every tenant",
}
MODULES = installed_modules()


def _ids(modules: Sequence[Module]) -> list[str]:
    return [module.name for module in modules]


def test_installed_names_match_folders() -> None:
    assert _ids(MODULES) == list(INSTALLED)
    for module in MODULES:
        assert (SRC / module.name / "__init__.py").is_file()


@pytest.mark.parametrize("module", MODULES, ids=_ids(MODULES))
def test_manifest_references_resolve(module: Module) -> None:
    if module.models:
        module.load("models")
    if module.api:
        assert isinstance(module.load("api"), APIRouter)
    if module.pages:
        assert isinstance(module.load("pages"), APIRouter)
    if module.cli:
        assert isinstance(module.load("cli"), typer.Typer)
    if module.demo:
        assert callable(module.load("demo"))
    for tile in module.load("tiles") or ():
        assert isinstance(tile, Tile)
        assert tile.key.startswith(f"{module.name}."), tile.key
    handlers = module.load("handlers") or {}
    assert isinstance(handlers, Mapping)
    for event_type, funcs in handlers.items():
        assert issubclass(event_type, Event)
        assert all(callable(func) for func in funcs)
    for required in module.requires:
        assert required in INSTALLED, f"{module.name} requires unknown module {required}"


@pytest.mark.parametrize("module", MODULES, ids=_ids(MODULES))
def test_module_has_the_standard_rooms(module: Module) -> None:
    folder = SRC / module.name
    assert (folder / "models.py").is_file()
    if module.api:
        assert (folder / "api.py").is_file() and (folder / "schemas.py").is_file()
    if module.pages:
        assert (folder / "pages.py").is_file()
    assert (folder / "service.py").is_file()
    grab_bags = {"utils.py", "helpers.py", "common.py", "misc.py"}
    assert not grab_bags & {path.name for path in folder.rglob("*.py")}


def test_table_names_start_with_their_module() -> None:
    for mapper in Base.registry.mappers:
        owner = mapper.class_.__module__.split(".")[1]
        table = mapper.local_table.name
        assert table.startswith(f"{owner}_"), f"{mapper.class_.__name__}: {table}"


def test_city_owned_tables_carry_city_id() -> None:
    for table in Base.metadata.sorted_tables:
        if table.name in PLATFORM_TABLES:
            continue
        assert "city_id" in table.columns, f"{table.name} has no city_id"
        assert not table.columns["city_id"].nullable, f"{table.name}.city_id is nullable"


def test_import_contracts_name_every_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    expected = {f"qala.{name}" for name in INSTALLED}
    assert set(contracts["kernel"]["forbidden_modules"]) == expected
    assert set(contracts["modules"]["modules"]) == expected


def test_unknown_module_selection_is_refused() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        enabled_modules(["nosuch"])
    assert _ids(enabled_modules(["web"])) == ["web"]


def test_demo_seeds_on_an_empty_database_and_stays_in_its_city(db: Session) -> None:
    from qala.demo import service as demo

    first, second = demo.seed_cities(db, ("stepnogorsk", "aktobe"))
    for _round in range(2):  # seeding twice changes nothing
        for module in MODULES:
            seed = module.load("demo")
            if seed is not None:
                seed(db, first)
        db.flush()
    counts_after_first = _city_counts(db)
    for table, per_city in counts_after_first.items():
        assert set(per_city) <= {first.id}, f"{table}: seeding one city wrote rows of another"
    assert second.id not in {city for per in counts_after_first.values() for city in per}


def _city_counts(db: Session) -> dict[str, dict[int, int]]:
    counts: dict[str, dict[int, int]] = {}
    for table in Base.metadata.sorted_tables:
        if "city_id" in table.columns and table.name != "core_districts":
            rows = db.execute(select(table.c.city_id, func.count()).group_by(table.c.city_id)).all()
            counts[table.name] = {int(c): int(n) for c, n in rows if c is not None}
    return counts


def test_schema_matches_tables(db: Session) -> None:
    names = set(inspect(db.get_bind()).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= names


SCAFFOLD_CHECK = """
import sys
import qala
sys.path.insert(0, {src!r})
qala.__path__.insert(0, {pkg!r})
from fastapi.testclient import TestClient
from qala.app import create_app
from qala.core import modules
from qala.core.auth import service as auth
from qala.core.db import Base, Database
from qala.settings import Settings
modules.INSTALLED = (*modules.INSTALLED, "widgets")
app = create_app(Settings(database_url="sqlite://"), Database.from_url("sqlite://"),
                 start_workers=False)
database = app.state.qala.database
database.engine.dispose()
from sqlalchemy.pool import StaticPool
from qala.core.db import make_engine
database.__init__(make_engine("sqlite://", poolclass=StaticPool))
Base.metadata.create_all(database.engine)
from qala.core.cities import City
with database.session() as db:
    db.add(City(slug="c1", name_ru="c", name_kk="c", name_en="c", centre_lat=0, centre_lon=0))
    db.flush()
    user = auth.create_user(db, "op", "password123")
    auth.set_role(db, user, 1, "operator")
    raw, _ = auth.issue_token(db, user, kind="bearer", max_age=60)
    db.commit()
client = TestClient(app)
headers = {{"Authorization": "Bearer " + raw, "Qala-City": "c1"}}
assert client.post("/api/widgets/items", json={{"title": "x"}}, headers=headers).status_code == 201
assert [i["title"] for i in client.get("/api/widgets/items", headers=headers).json()] == ["x"]
print("scaffold ok")
"""


def test_new_module_scaffold_works(tmp_path: Path) -> None:
    (tmp_path / "src" / "qala" / "core").mkdir(parents=True)
    (tmp_path / "src" / "qala" / "core" / "modules.py").write_text(
        (SRC / "core" / "modules.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    created = new_module(tmp_path, "widgets")
    names = {path.relative_to(tmp_path).as_posix() for path in created}
    for room in ("__init__", "models", "schemas", "service", "api", "pages"):
        assert f"src/qala/widgets/{room}.py" in names
    assert "tests/widgets/test_widgets.py" in names and "docs/modules/widgets.md" in names
    assert '"widgets",' in (tmp_path / "src/qala/core/modules.py").read_text(encoding="utf-8")
    config = tomllib.loads((tmp_path / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    assert "qala.widgets" in contracts["modules"]["modules"]
    assert "qala.widgets" in contracts["kernel"]["forbidden_modules"]
    assert "qala.widgets" not in contracts["services"]["forbidden_modules"]
    script = SCAFFOLD_CHECK.format(src=str(tmp_path / "src"), pkg=str(tmp_path / "src" / "qala"))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scaffold ok" in result.stdout
    with pytest.raises(ValueError, match="exists"):
        new_module(tmp_path, "widgets")
    with pytest.raises(ValueError, match="lowercase"):
        new_module(tmp_path, "Bad-Name")
