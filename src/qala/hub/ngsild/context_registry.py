"""The stored @contexts behind ``/jsonldContexts`` (ETSI GS CIM 009 §5.13): add, list, serve,
delete and reload them, and count how often each one is used. Deployment-wide, not per city.

Rows of ``hub_contexts`` are keyed by ``url``: our own hosted (and implicitly created) contexts
as ``hosted:<localId>`` (see ``contexts_store.context_key``), cached remote ones by their URL."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from qala.core.db import utcnow
from qala.hub.models import HubContext
from qala.hub.ngsild.context import (
    CORE_CONTEXT_URL,
    CORE_CONTEXT_URLS,
    ContextCache,
    ContextError,
    ContextFetchError,
    core_context_document,
)
from qala.hub.ngsild.contexts_store import HOSTED_PATH, MAX_CONTEXT_BYTES, context_key
from qala.hub.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    ResourceNotFound,
)
from qala.hub.ngsild.model import format_time

#: Stored kind -> the kind the API shows.
KINDS = {"hosted": "Hosted", "cached": "Cached", "implicit": "ImplicitlyCreated"}
API_KINDS = {shown: stored for stored, shown in KINDS.items()}
HOSTED = "hosted:"
CACHED_ID = "cached-"
CORE_LOCAL_ID = "ngsi-ld-core-context"
STARTED = utcnow()
Fetch = Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class StoredContext:
    """One @context as ``/jsonldContexts`` describes it."""

    url: str
    local_id: str
    kind: str  # Hosted | Cached | ImplicitlyCreated
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    hits: int | None = None

    def details(self) -> dict[str, Any]:
        """The ``details=true`` object (URL, localId, kind, createdAt, lastUsage, numberOfHits)."""
        body: dict[str, Any] = {
            "URL": self.url,
            "localId": self.local_id,
            "kind": self.kind,
            "createdAt": format_time(self.created_at),
        }
        if self.last_used_at is not None:
            body["lastUsage"] = format_time(self.last_used_at)
        if self.hits is not None:
            body["numberOfHits"] = self.hits
        return body


def check_document(document: Any) -> dict[str, Any]:
    """A document a client wants hosted: an object whose ``@context`` is valid JSON-LD."""
    if not isinstance(document, dict) or "@context" not in document:
        raise InvalidRequest("the body must be a JSON object with an @context member", field="body")
    context = document["@context"]
    items = context if isinstance(context, list) else [context]
    if not items or not all(isinstance(item, str | dict) for item in items):
        raise BadRequestData(
            "@context must be a URL, an object or an array of them", field="@context"
        )
    if len(json.dumps(document)) > MAX_CONTEXT_BYTES:
        raise BadRequestData("the @context is too large", field="@context")
    try:
        ContextCache().term_map(context)
    except ContextFetchError:
        pass  # it refers to remote contexts; they are fetched (and cached) when it is used
    except ContextError as error:
        raise BadRequestData(str(error), field="@context") from None
    return document


def add_context(db: Session, document: dict[str, Any], kind: str = "hosted") -> str:
    """Store a document as a hosted (or implicitly created) @context; its new local id."""
    local_id = uuid.uuid4().hex
    db.add(HubContext(url=HOSTED + local_id, body=json.dumps(document), kind=kind))
    db.flush()
    return local_id


def hosted_url(base_url: str, local_id: str) -> str:
    """The URL a hosted @context is served at."""
    return base_url.rstrip("/") + HOSTED_PATH + local_id


def describe(row: HubContext, base_url: str) -> StoredContext:
    """How the API shows a stored row."""
    if row.url.startswith(HOSTED):
        local_id = row.url[len(HOSTED) :]
        url = hosted_url(base_url, local_id)
    else:
        local_id, url = f"{CACHED_ID}{row.id}", row.url
    kind = KINDS.get(row.kind, row.kind)
    return StoredContext(url, local_id, kind, row.created_at, row.last_used_at, row.hits)


def core_context() -> StoredContext:
    """The shipped core @context, shown as a cached one."""
    return StoredContext(CORE_CONTEXT_URL, CORE_LOCAL_ID, "Cached", STARTED)


def is_core(context_id: str) -> bool:
    """True for the core @context (any version's URL, or its local id)."""
    return context_id in CORE_CONTEXT_URLS or context_id == CORE_LOCAL_ID


def list_contexts(db: Session, base_url: str, kind: str | None = None) -> list[StoredContext]:
    """Every stored @context (the core one first), optionally of one API kind."""
    query = select(HubContext).order_by(HubContext.id)
    if kind is not None:
        query = query.where(HubContext.kind == API_KINDS[kind])
    found = [describe(row, base_url) for row in db.scalars(query)]
    if kind in (None, "Cached"):
        found.insert(0, core_context())
    return found


def find_context(db: Session, context_id: str) -> HubContext | None:
    """The stored row a context id names: a local id, a cached URL or a hosted URL."""
    keys = [HOSTED + context_id, context_id, context_key(context_id)]
    row = db.scalar(select(HubContext).where(HubContext.url.in_(keys)))
    if row is None and context_id.startswith(CACHED_ID) and context_id[len(CACHED_ID) :].isdigit():
        row = db.get(HubContext, int(context_id[len(CACHED_ID) :]))
    return row


def describe_context(db: Session, context_id: str, base_url: str) -> StoredContext:
    """What is known about one @context, or ResourceNotFound."""
    if is_core(context_id):
        return core_context()
    row = find_context(db, context_id)
    if row is None:
        raise ResourceNotFound(f"no @context {context_id}", field="contextId")
    return describe(row, base_url)


def context_document(db: Session, context_id: str) -> dict[str, Any]:
    """The stored JSON-LD document of a @context, or ResourceNotFound."""
    if is_core(context_id):
        return core_context_document()
    row = find_context(db, context_id)
    if row is None:
        raise ResourceNotFound(f"no @context {context_id}", field="contextId")
    document: dict[str, Any] = json.loads(row.body)
    return document


def delete_context(db: Session, context_id: str, *, reload: bool, fetch: Fetch) -> None:
    """Delete a stored @context, or (``reload``) fetch a cached one anew."""
    if is_core(context_id):
        if not reload:
            raise BadRequestData("the core @context cannot be deleted", field="contextId")
        return  # it ships with Qala: there is nothing to download again
    row = find_context(db, context_id)
    if row is None:
        if reload:
            raise BadRequestData(f"no cached @context {context_id} to reload", field="contextId")
        raise ResourceNotFound(f"no @context {context_id}", field="contextId")
    if not reload:
        db.delete(row)
        return
    if row.kind != "cached":
        raise BadRequestData("only cached @contexts can be reloaded", field="reload")
    document = fetch(row.url)
    if document is None:
        raise LdContextNotAvailable(f"the @context {row.url} cannot be downloaded now")
    row.body = json.dumps(document)


class ContextUsage:
    """How often each stored @context was used since the last flush (kept in memory, so
    counting costs a request nothing; written to ``hub_contexts`` when the numbers are read)."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, dt.datetime]] = {}
        self._lock = threading.Lock()

    def record(self, urls: Iterable[str]) -> None:
        """Count one use of each context URL (core contexts are not counted)."""
        now = utcnow()
        with self._lock:
            for url in urls:
                if url in CORE_CONTEXT_URLS:
                    continue
                key = context_key(url)
                count, _last = self._pending.get(key, (0, now))
                self._pending[key] = (count + 1, now)

    def flush(self, db: Session) -> None:
        """Add the counted uses to the stored rows."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for key, (count, last) in pending.items():
            db.execute(
                update(HubContext)
                .where(HubContext.url == key)
                .values(hits=HubContext.hits + count, last_used_at=last)
            )

    def pending(self) -> Mapping[str, tuple[int, dt.datetime]]:
        """Uses counted but not yet written (for tests and diagnostics)."""
        with self._lock:
            return dict(self._pending)
