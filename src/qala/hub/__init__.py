"""The city data hub: an NGSI-LD context broker with a temporal store and subscriptions, and
IoT ingestion over MQTT and HTTP in the FIWARE IoT Agent JSON style."""

from qala.core.i18n import _
from qala.core.modules import Module

module = Module(
    name="hub",
    title=_("City data hub"),
    models="qala.hub.models",
    api="qala.hub.api:router",
    mounts={
        "/ngsi-ld/v1": "qala.hub.ngsild.api:router",
        "/iot": "qala.hub.ingest.api:router",
    },
    pages="qala.hub.pages:router",
    tiles="qala.hub.pages:TILES",
    cli="qala.hub.cli:app",
    workers="qala.hub.runtime:start_workers",
)
