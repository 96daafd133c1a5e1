"""The URL parameters each NGSI-LD entity operation defines (§6.3.20: any other one is an
InvalidRequest). ``local`` and ``via`` belong to the distributed operations; Qala accepts them
and answers from its own store."""

from __future__ import annotations

DISTRIBUTED = frozenset({"local", "via"})
RENDERING = frozenset(
    {
        "attrs",
        "pick",
        "omit",
        "options",
        "format",
        "lang",
        "geometryProperty",
        "datasetId",
        "join",
        "joinLevel",
        "containedBy",
        "entityMap",
        "collect",
        "jsonKeys",
        "expandValues",
    }
)
#: GET /entities (and the body of POST /entityOperations/query).
QUERY = (
    DISTRIBUTED
    | RENDERING
    | frozenset(
        {
            "id",
            "type",
            "idPattern",
            "q",
            "csf",
            "georel",
            "geometry",
            "coordinates",
            "geoproperty",
            "scopeQ",
            "limit",
            "offset",
            "count",
            "doNotCompact",
        }
    )
)
RETRIEVE = DISTRIBUTED | RENDERING | frozenset({"type"})
CREATE = DISTRIBUTED
DELETE = DISTRIBUTED | frozenset({"type"})
APPEND = DISTRIBUTED | frozenset({"options"})
UPDATE = DISTRIBUTED | frozenset({"options"})
REPLACE = DISTRIBUTED
MERGE = DISTRIBUTED | frozenset({"options", "format"})
ATTRIBUTE_DELETE = DISTRIBUTED | frozenset({"datasetId", "deleteAll"})
ATTRIBUTE_WRITE = DISTRIBUTED | frozenset({"options"})
