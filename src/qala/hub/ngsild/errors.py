"""NGSI-LD problem types (ETSI GS CIM 009 §5.5.2), rendered as RFC 9457 problem details."""

from __future__ import annotations

from qala.core.errors import Problem
from qala.core.i18n import _

NGSI_LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiLdProblem(Problem):
    """A problem whose type is one of the NGSI-LD error URIs, sent as ``application/json``:
    the NGSI-LD HTTP binding (and its OpenAPI) gives ProblemDetails that media type."""

    media_type = "application/json"

    @property
    def type_uri(self) -> str:
        """The NGSI-LD error type."""
        return NGSI_LD_ERRORS + self.slug


class InvalidRequest(NgsiLdProblem):
    """The request is not well formed (JSON syntax, wrong parameters)."""

    status = 400
    slug = "InvalidRequest"
    title = _("Invalid request")


class BadRequestData(NgsiLdProblem):
    """The request content is well formed but breaks the NGSI-LD rules."""

    status = 400
    slug = "BadRequestData"
    title = _("Bad request data")


class AlreadyExists(NgsiLdProblem):
    """An entity (or subscription, context) with that id exists already."""

    status = 409
    slug = "AlreadyExists"
    title = _("Already exists")


class ResourceNotFound(NgsiLdProblem):
    """No entity, attribute, subscription or context with that id."""

    status = 404
    slug = "ResourceNotFound"
    title = _("Resource not found")


class OperationNotSupported(NgsiLdProblem):
    """The operation is not supported."""

    status = 422
    slug = "OperationNotSupported"
    title = _("Operation not supported")


class LdContextNotAvailable(NgsiLdProblem):
    """A remote @context could not be retrieved."""

    status = 503
    slug = "LdContextNotAvailable"
    title = _("The @context is not available")


class NotAcceptable(NgsiLdProblem):
    """The Accept header asks for a representation the broker cannot give."""

    status = 406
    slug = "NotAcceptable"
    title = _("Not acceptable")


class UnsupportedMediaType(NgsiLdProblem):
    """The Content-Type is not one NGSI-LD accepts."""

    status = 415
    slug = "UnsupportedMediaType"
    title = _("Unsupported media type")


class TooManyResults(NgsiLdProblem):
    """The query would return more results than allowed."""

    status = 403
    slug = "TooManyResults"
    title = _("Too many results")


class InternalError(NgsiLdProblem):
    """Something failed on the broker's side (reported per entity in batch results)."""

    status = 500
    slug = "InternalError"
    title = _("Internal error")
