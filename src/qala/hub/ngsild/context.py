"""JSON-LD @context handling: the shipped core context, term expansion and compaction.

Entities are stored with expanded attribute and type names (IRIs), so they do not depend on
the context a client used. A request's context is processed once (pyld) into a ``TermMap`` and
cached; expanding or compacting a name is then a dictionary look-up."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from pyld import jsonld

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
CORE_CONTEXT_URLS = frozenset(
    {
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        *(
            f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{n}.jsonld"
            for n in range(3, 10)
        ),
    }
)
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"

ContextLoader = Callable[[str], dict[str, Any] | None]


class ContextError(ValueError):
    """A @context could not be loaded or processed."""


class ContextFetchError(ContextError):
    """A remote @context could not be retrieved (as opposed to one that is invalid)."""


#: pyld error codes that mean "could not get the document", not "the document is wrong".
LOAD_FAILURES = frozenset({"loading remote context failed", "loading document failed"})


@functools.cache
def core_context_document() -> dict[str, Any]:
    """The NGSI-LD core context shipped with Qala (written by the project from the spec)."""
    text = files("qala.hub.ngsild").joinpath("data/core-context.jsonld").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@dataclass(frozen=True)
class TermMap:
    """Term ↔ IRI for one active context (the core context plus a client's)."""

    key: str
    to_iri: dict[str, str]
    to_term: dict[str, str]
    vocab: str = DEFAULT_VOCAB
    prefixes: dict[str, str] = field(default_factory=dict)
    links: tuple[str, ...] = ()  # the user context URLs, for the response Link header

    def expand(self, term: str) -> str:
        """The IRI of an attribute or type name."""
        iri = self.to_iri.get(term)
        if iri is not None:
            return iri
        prefix, sep, suffix = term.partition(":")
        if sep:
            if prefix in self.prefixes and not suffix.startswith("//"):
                return self.prefixes[prefix] + suffix
            if suffix.startswith("//") or prefix in ("urn", "http", "https"):
                return term
        return self.vocab + term

    def compact(self, iri: str) -> str:
        """The shortest name of an IRI under this context (JSON-LD IRI compaction: a term, a
        vocabulary-relative name that is not itself a term for another IRI, a compact IRI
        ``prefix:suffix``, or the IRI itself)."""
        term = self.to_term.get(iri)
        if term is not None:
            return term
        for vocab in (self.vocab, DEFAULT_VOCAB):
            if iri.startswith(vocab):
                suffix = iri[len(vocab) :]
                if suffix and suffix not in self.to_iri and ":" not in suffix:
                    return suffix
        return self._compact_iri(iri)

    def _compact_iri(self, iri: str) -> str:
        best = iri
        for prefix, base in self.prefixes.items():
            if iri.startswith(base) and len(iri) > len(base):
                candidate = f"{prefix}:{iri[len(base) :]}"
                if len(candidate) < len(best) and candidate not in self.to_iri:
                    best = candidate
        return best


class ContextCache:
    """Processes and caches contexts; remote ones come from ``loader`` (stored or fetched)."""

    def __init__(self, loader: ContextLoader | None = None, size: int = 256) -> None:
        self.loader = loader
        self.size = size
        self._maps: dict[str, TermMap] = {}
        self._lock = threading.Lock()

    def term_map(self, context: str | dict[str, Any] | Sequence[Any] | None) -> TermMap:
        """The term map of ``context`` (None: the core context alone)."""
        items = _as_list(context)
        items = [i for i in items if not (isinstance(i, str) and i in CORE_CONTEXT_URLS)]
        key = json.dumps(items, sort_keys=True)
        cached = self._maps.get(key)
        if cached is not None:
            return cached
        term_map = self._process(key, items)
        with self._lock:
            if len(self._maps) >= self.size:
                self._maps.pop(next(iter(self._maps)))
            self._maps[key] = term_map
        return term_map

    def forget(self) -> None:
        """Drop every processed context (after a stored @context was deleted or reloaded)."""
        with self._lock:
            self._maps.clear()

    def _process(self, key: str, items: list[Any]) -> TermMap:
        # §4.4: the core @context is protected, processed as if it came last.
        local = [*items, core_context_document()["@context"]]
        try:
            active = jsonld.JsonLdProcessor().process_context(
                {"mappings": {}, "processingMode": "json-ld-1.1"},
                local,
                {"documentLoader": self._document_loader, "processingMode": "json-ld-1.1"},
            )
        except jsonld.JsonLdError as error:
            kind = ContextFetchError if _load_failure(error) else ContextError
            raise kind(f"the @context cannot be processed: {_reason(error)}") from error
        to_iri: dict[str, str] = {}
        prefixes: dict[str, str] = {}
        for term, definition in active.get("mappings", {}).items():
            if not definition or term.startswith("@"):
                continue
            iri = definition.get("@id")
            if not isinstance(iri, str) or iri.startswith("@"):
                continue
            to_iri[term] = iri
            if definition.get("_prefix") or iri.endswith(("/", "#")):
                prefixes[term] = iri
        to_term: dict[str, str] = {}
        for term, iri in sorted(to_iri.items(), key=lambda pair: (len(pair[0]), pair[0])):
            to_term.setdefault(iri, term)
        vocab = active.get("@vocab") or DEFAULT_VOCAB
        links = tuple(item for item in items if isinstance(item, str))
        return TermMap(key, to_iri, to_term, vocab, prefixes, links)

    def _document_loader(self, url: str, options: Any = None) -> dict[str, Any]:
        if url in CORE_CONTEXT_URLS:
            document: dict[str, Any] | None = core_context_document()
        else:
            document = self.loader(url) if self.loader else None
        if document is None:
            raise jsonld.JsonLdError(
                f"cannot load the context {url}",
                "jsonld.LoadDocumentError",
                {"url": url},
                code="loading remote context failed",
            )
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
        }


def _as_list(context: Any) -> list[Any]:
    if context is None:
        return []
    if isinstance(context, list | tuple):
        return list(context)
    return [context]


def _load_failure(error: Exception) -> bool:
    seen: Exception | None = error
    while seen is not None:
        if getattr(seen, "code", None) in LOAD_FAILURES:
            return True
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, Exception) else None
    return False


def _reason(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return str(cause or error).splitlines()[0][:300]


def parse_link_header(header: str) -> str | None:
    """The context URL of a ``Link: <url>; rel="http://www.w3.org/ns/json-ld#context"``."""
    for part in header.split(","):
        url_part, _sep, params = part.strip().partition(";")
        url = url_part.strip()
        if not (url.startswith("<") and url.endswith(">")):
            continue
        if JSONLD_CONTEXT_REL in params:
            return url[1:-1]
    return None


def link_header(url: str) -> str:
    """A ``Link`` header value naming ``url`` as the JSON-LD context."""
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
