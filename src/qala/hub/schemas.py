"""API shapes of the hub's own (non-NGSI-LD) endpoints."""

from __future__ import annotations

from pydantic import BaseModel


class TypeCount(BaseModel):
    type: str
    entities: int


class HubStats(BaseModel):
    entities: int
    types: list[TypeCount]
