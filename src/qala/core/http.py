"""HTTP edge of the kernel: problem-details rendering, body limit, language, metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qala.core.errors import PROBLEM_JSON, NotFound, PayloadTooLarge, Problem
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
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


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
        else:
            problem = Problem(str(exc.detail))
            problem.status = exc.status_code  # type: ignore[misc]
        return problem_response(request, problem)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(str(_("Something went wrong on our side. It has been logged.")))
        problem.status = 500  # type: ignore[misc]
        return problem_response(request, problem)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
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
            "qala_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qala_http_request_seconds", "HTTP request latency", ["method", "route"],
            registry=self.registry,
        )


def install_request_middleware(app: FastAPI, metrics: Metrics, default_language: str) -> None:
    """Set the request's language and count it in the metrics."""

    @app.middleware("http")
    async def per_request(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        language = choose_language(request, default_language)
        request.state.language = language
        token = set_language(language)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            reset_language(token)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax", httponly=False
            )
        response.headers.setdefault("Content-Language", language)
        return response
