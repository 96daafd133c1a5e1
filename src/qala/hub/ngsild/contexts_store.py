"""Where remote @contexts come from: stored ones first (``/jsonldContexts`` and earlier
fetches), then the network when it is reachable; a fetched context is cached in the database."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import select

from qala.core.db import Database
from qala.hub.models import HubContext

log = logging.getLogger(__name__)
HOSTED_PATH = "/ngsi-ld/v1/jsonldContexts/"
FETCH_TIMEOUT = 3.0
MAX_CONTEXT_BYTES = 1024 * 1024


def context_key(url: str) -> str:
    """The key a context is stored under: our own hosted URLs by their id, others by URL."""
    if HOSTED_PATH in url:
        return "hosted:" + url.rsplit(HOSTED_PATH, 1)[1]
    return url


def make_loader(database: Database) -> Any:
    """A loader for ``ContextCache``: url -> JSON-LD document, or None."""

    def load(url: str) -> dict[str, Any] | None:
        key = context_key(url)
        with database.session() as db:
            body = db.scalar(select(HubContext.body).where(HubContext.url == key))
            if body is not None:  # uses are counted per request (context_registry.ContextUsage)
                document: dict[str, Any] = json.loads(body)
                return document
        if key.startswith("hosted:"):
            return None
        document_or_none = fetch(url)
        if document_or_none is not None:
            with database.session() as db:
                if db.scalar(select(HubContext.id).where(HubContext.url == key)) is None:
                    db.add(HubContext(url=key, body=json.dumps(document_or_none), kind="cached"))
                    db.commit()
        return document_or_none

    return load


def fetch(url: str) -> dict[str, Any] | None:
    """Fetch a remote context (when the network allows); None when it cannot be had."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        response = httpx.get(
            url,
            timeout=FETCH_TIMEOUT,
            follow_redirects=True,
            headers={"Accept": "application/ld+json, application/json"},
        )
        response.raise_for_status()
        if len(response.content) > MAX_CONTEXT_BYTES:
            return None
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        log.info("context %s not available: %s", url, error)
        return None
    return document if isinstance(document, dict) else None
