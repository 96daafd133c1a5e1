"""The NGSI-LD API mounted at ``/ngsi-ld/v1``: one router per part of the spec."""

from fastapi import APIRouter

from qala.hub.ngsild import api_batch, api_contexts, api_discovery, api_entities, api_query
from qala.hub.subscriptions import api as subscriptions_api
from qala.hub.temporal import api as temporal_api

router = APIRouter()
router.include_router(api_entities.router)
router.include_router(api_query.router)
router.include_router(subscriptions_api.router)
router.include_router(api_batch.router)
router.include_router(api_discovery.router)
router.include_router(api_contexts.router)
router.include_router(temporal_api.router)
