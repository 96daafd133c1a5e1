"""The hub's Qala API (``/api/hub``): what the city's data hub holds, for dashboards."""

from __future__ import annotations

from fastapi import APIRouter

from qala.core.deps import DbSession, SpecialistCity
from qala.hub import service
from qala.hub.ngsild.context import ContextCache
from qala.hub.schemas import HubStats, TypeCount

router = APIRouter(tags=["hub"])


@router.get("/stats")
def get_stats(db: DbSession, city: SpecialistCity) -> HubStats:
    """How many entities the city's hub holds, by type (short names under the core context)."""
    terms = ContextCache().term_map(None)
    types = [
        TypeCount(type=terms.compact(t), entities=n) for t, n in service.entity_types(db, city.id)
    ]
    return HubStats(entities=service.count_entities(db, city.id), types=types)
