"""Errors as RFC 9457 problem details: the exceptions services raise and how they render."""

from __future__ import annotations

from typing import Any, ClassVar

from qala.core.i18n import _

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://qala.kz/problems/"


class Problem(Exception):  # noqa: N818 - a problem is the RFC's name for it
    """A failure the caller can understand; rendered as ``application/problem+json``."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = _("Bad request")
    #: The media type the problem is sent as; an API bound by its own standard may change it.
    media_type: ClassVar[str] = PROBLEM_JSON

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        """The problem type URI."""
        return PROBLEM_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem details object."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": str(self.title),
            "status": self.status,
        }
        if self.detail:
            body["detail"] = str(self.detail)
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(Problem):
    """The request is malformed or breaks a rule."""


class InvalidField(BadRequest):
    """One field of the request is wrong; ``errors`` names it."""

    status = 422
    slug = "validation-error"
    title = _("The request has invalid fields")


class Unauthorized(Problem):
    """No valid credentials were given."""

    status = 401
    slug = "unauthorized"
    title = _("Sign-in required")


class Forbidden(Problem):
    """The caller may not do this (another city, or a missing role)."""

    status = 403
    slug = "forbidden"
    title = _("Access denied")


class NotFound(Problem):
    """The resource does not exist (or the caller's city cannot see it)."""

    status = 404
    slug = "not-found"
    title = _("Not found")


class MethodNotAllowed(Problem):
    """The resource exists but not with this HTTP method."""

    status = 405
    slug = "method-not-allowed"
    title = _("Method not allowed")


class ServerError(Problem):
    """Something failed on the server's side (logged; no details leak)."""

    status = 500
    slug = "server-error"
    title = _("Server error")


class ServiceBusy(Problem):
    """A shared resource (the database) is busy; the request changed nothing, retry it."""

    status = 503
    slug = "busy"
    title = _("Busy")


class Conflict(Problem):
    """The request conflicts with the current state."""

    status = 409
    slug = "conflict"
    title = _("Conflict")


class PayloadTooLarge(Problem):
    """The body is larger than the deployment allows."""

    status = 413
    slug = "payload-too-large"
    title = _("Request body too large")


class TooManyRequests(Problem):
    """Too many attempts; try later."""

    status = 429
    slug = "too-many-requests"
    title = _("Too many requests")
