"""``qala dev new-module NAME``: a new module with the five standard files, test and doc page."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
INSTALLED_END = ")\n\n\n@dataclass(frozen=True)\nclass Module:"

FILES: dict[str, str] = {
    "src/qala/$name/__init__.py": '''\
"""$Title: (describe the module in one line)."""

from qala.core.i18n import _
from qala.core.modules import Module

module = Module(
    name="$name",
    title=_("$Title"),
    models="qala.$name.models",
    api="qala.$name.api:router",
    pages="qala.$name.pages:router",
    tiles="qala.$name.pages:TILES",
    demo="qala.$name.demo:seed",
)
''',
    "src/qala/$name/models.py": '''\
"""Tables of the $name module; every table name starts with ``${name}_``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from qala.core.db import Base, CityOwned, utcnow


class Item(CityOwned, Base):
    """An item of the $name module, owned by one city."""

    __tablename__ = "${name}_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
''',
    "src/qala/$name/schemas.py": '''\
"""API shapes of the $name module."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    created_at: dt.datetime
''',
    "src/qala/$name/service.py": '''\
"""Domain logic of the $name module: no HTTP, no commit; the entrypoint owns the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.$name.models import Item
from qala.$name.schemas import ItemCreate


def create_item(db: Session, city: CityContext, data: ItemCreate) -> Item:
    """Create an item in the caller's city."""
    item = Item(city_id=city.id, title=data.title)
    db.add(item)
    db.flush()
    return item


def list_items(db: Session, city: CityContext) -> list[Item]:
    """The items of the caller's city, newest first."""
    query = select(Item).where(Item.city_id == city.id).order_by(Item.id.desc())
    return list(db.scalars(query))
''',
    "src/qala/$name/api.py": '''\
"""$Title API: thin routes calling the service (mounted under /api/$name)."""

from __future__ import annotations

from fastapi import APIRouter

from qala.core.deps import CurrentCity, DbSession, OperatorCity
from qala.$name import service
from qala.$name.schemas import ItemCreate, ItemRead

router = APIRouter(tags=["$name"])


@router.get("/items")
def list_items(db: DbSession, city: CurrentCity) -> list[ItemRead]:
    """The items of the caller's city."""
    return [ItemRead.model_validate(item) for item in service.list_items(db, city)]


@router.post("/items", status_code=201)
def post_item(body: ItemCreate, db: DbSession, city: OperatorCity) -> ItemRead:
    """Create an item."""
    return ItemRead.model_validate(service.create_item(db, city, body))
''',
    "src/qala/$name/pages.py": '''\
"""$Title pages and situational-centre tiles."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qala.core.cities import CityContext
from qala.core.i18n import _
from qala.core.modules import Tile, TileData
from qala.$name.models import Item

router = APIRouter(include_in_schema=False)


def items_tile(db: Session, city: CityContext) -> TileData:
    """How many items the city has."""
    count = db.scalar(select(func.count(Item.id)).where(Item.city_id == city.id))
    return TileData(value=count or 0)


TILES = (Tile("$name.items", _("$Title"), items_tile),)
''',
    "src/qala/$name/demo.py": '''\
"""Demo data of the $name module for one city."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qala.core.cities import City
from qala.$name.models import Item


def seed(db: Session, city: City) -> None:
    """Give a demo city a few items (idempotent)."""
    if db.scalar(select(Item.id).where(Item.city_id == city.id)) is None:
        db.add_all(Item(city_id=city.id, title=f"{city.name_en} #{n}") for n in range(1, 4))
''',
    "tests/$name/__init__.py": "",
    "tests/$name/test_$name.py": '''\
"""The $name module: items are created and listed per city, never across cities."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from qala.core.cities import City


def test_operator_creates_and_lists_items(
    client: TestClient, as_role: Callable[..., dict[str, str]]
) -> None:
    headers = as_role("operator")
    created = client.post("/api/$name/items", json={"title": "First"}, headers=headers)
    assert created.status_code == 201
    listed = client.get("/api/$name/items", headers=headers).json()
    assert [item["title"] for item in listed] == ["First"]


def test_other_city_cannot_see_items(
    client: TestClient, as_role: Callable[..., dict[str, str]], other_city: City
) -> None:
    client.post("/api/$name/items", json={"title": "Mine"}, headers=as_role("operator"))
    theirs = client.get("/api/$name/items", headers=as_role("operator", other_city)).json()
    assert theirs == []
''',
    "docs/modules/$name.md": """\
# $Title (`qala.$name`)

Purpose: (who uses it and for what).

- **Entities**: `${name}_items` (city-owned).
- **API**: `GET/POST /api/$name/items`.
- **Events in/out**: none yet.
- **Tiles**: `$name.items`.
- **Demo data**: three items per demo city.
- **Limits**: (what it does not do yet).
""",
}


def new_module(root: Path, name: str) -> list[Path]:
    """Write the module's files under ``root`` and register it; returns the files created."""
    if not NAME.match(name):
        raise ValueError("a module name is 2-31 lowercase letters or digits, first a letter")
    package = root / "src" / "qala" / name
    if package.exists():
        raise ValueError(f"{package} exists already")
    values = {"name": name, "Title": name.capitalize()}
    created = []
    for template, content in FILES.items():
        path = root / Template(template).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(content).safe_substitute(values), encoding="utf-8")
        created.append(path)
    _register(root, name)
    return created


def _register(root: Path, name: str) -> None:
    """Add the module to INSTALLED and to the import contracts."""
    modules_py = root / "src" / "qala" / "core" / "modules.py"
    text = modules_py.read_text(encoding="utf-8")
    if INSTALLED_END not in text:
        raise ValueError("cannot find the end of INSTALLED in core/modules.py")
    text = text.replace(INSTALLED_END, f'    "{name}",\n{INSTALLED_END}', 1)
    modules_py.write_text(text, encoding="utf-8")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pattern = re.compile(r"^(\w+ = \[)(.*?)(\])(  # every module)$", re.MULTILINE)
    text, count = pattern.subn(lambda m: f'{m[1]}{m[2]}, "qala.{name}"{m[3]}{m[4]}', text)
    if count != 2:
        raise ValueError("pyproject.toml needs two contract lines marked '# every module'")
    pyproject.write_text(text, encoding="utf-8")
