"""The NGSI-LD API mounted at ``/ngsi-ld/v1``: one router per part of the spec."""

from fastapi import APIRouter

from qala.hub.ngsild import api_entities

router = APIRouter()
router.include_router(api_entities.router)
