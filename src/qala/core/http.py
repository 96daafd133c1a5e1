"""HTTP edge of the kernel: problem-details rendering, body limit, language, metrics."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qala.core.errors import (
    PROBLEM_JSON,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    ServerError,
    ServiceBusy,
)
from qala.core.i18n import _, negotiate, reset_language, set_language
from qala.settings import LANGUAGES

log = logging.getLogger("qala.http")
LANGUAGE_COOKIE = "qala_lang"


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    """Render ``problem`` as RFC 9457 JSON in the request's language."""
    token = set_language(getattr(request.state, "language", "ru"))
    try:
        body = problem.body(instance=request.url.path)
    finally:
        reset_language(token)
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        body, status_code=problem.status, media_type=problem.media_type, headers=headers
    )


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1] if location else "body")


def validation_problem(exc: RequestValidationError) -> Problem:
    """A 422 naming every bad field (or a 400 when the body is not JSON at all)."""
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return Problem(str(_("The body is not valid JSON.")), errors=[{"field": "body"}])
        errors.append(
            {
                "field": _field_name(tuple(error.get("loc", ()))),
                "message": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    from qala.core.errors import InvalidField

    fields = ", ".join(sorted({e["field"] for e in errors}))
    return InvalidField(str(_("Check these fields: {fields}.", fields=fields)), errors=errors)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as problem+json; nothing leaks a stack trace."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(request, validation_problem(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            problem: Problem = NotFound(str(_("Nothing is found at this address.")))
        elif exc.status_code == 405:
            problem = MethodNotAllowed(
                str(_("This address does not accept {method}.", method=request.method))
            )
        else:
            problem = Problem(str(exc.detail))
            problem.status = exc.status_code  # type: ignore[misc]
        response = problem_response(request, problem)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def on_database_busy(request: Request, exc: Exception) -> Response:
        transient = getattr(exc, "connection_invalidated", False) or any(
            sign in str(exc) for sign in ("locked", "could not serialize", "connection")
        )
        if not transient:  # a lost connection (database restart) or a lock: retry later
            return await on_crash(request, exc)
        log.warning("database busy on %s %s", request.method, request.url.path)
        response = problem_response(
            request, ServiceBusy(str(_("The database is busy. Try again in a moment.")))
        )
        response.headers["Retry-After"] = "1"
        return response

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = ServerError(str(_("Something went wrong on our side. It has been logged.")))
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OperationalError, on_database_busy)
    app.add_exception_handler(Exception, on_crash)


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413 before the application reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, send)
            return
        received, too_large, started, refused = 0, False, False, False

        async def limited() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise PayloadTooLarge(str(_("The body is larger than allowed.")))
            return message

        async def answer(message: Message) -> None:
            # FastAPI turns any error while reading the body into its own 400; once the limit
            # was crossed, the caller gets the 413 instead of whatever the app made of it.
            nonlocal started, refused
            if too_large and not started:
                started = refused = True
                await self._refuse(scope, send)
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, limited, answer)
        except PayloadTooLarge:
            if refused:
                return
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = PayloadTooLarge(str(_("The body is larger than allowed."))).body(scope["path"])
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def choose_language(request: Request, default: str) -> str:
    """?lang= (an explicit switch), then the user's saved choice (cookie), then Accept-Language."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return str(candidate)
    return negotiate(request.headers.get("accept-language", "")) or default


class Metrics:
    """Prometheus metrics of one app (its own registry, so tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qala_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qala_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )


class RequestContext:
    """Pure ASGI middleware: the request's language (and its cookie), Content-Language, and
    the request in the metrics. (Starlette's BaseHTTPMiddleware costs a task per request.)"""

    def __init__(self, app: ASGIApp, metrics: Metrics, default_language: str) -> None:
        self.app = app
        self.metrics = metrics
        self.default_language = default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        language = choose_language(request, self.default_language)
        explicit = request.query_params.get("lang") in LANGUAGES
        scope.setdefault("state", {})["language"] = language
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if "content-language" not in headers:
                    headers["Content-Language"] = language
                if explicit:
                    headers.append(
                        "Set-Cookie",
                        f"{LANGUAGE_COOKIE}={language}; Max-Age={365 * 24 * 3600}; Path=/; "
                        "SameSite=lax",
                    )
            await send(message)

        token = set_language(language)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            reset_language(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
