"""API shapes of the dashboard shell."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel


class TileRead(BaseModel):
    key: str
    title: str
    value: str | int | float | None
    unit: str = ""
    caption: str = ""
    severity: str = "ok"
    series: Sequence[float] = ()
    link: str = ""
