"""Problems of IoT ingestion, as RFC 9457 problem details carrying the IoT Agent error
``name`` (WRONG_SYNTAX, DEVICE_GROUP_NOT_FOUND, ...) and the ``field`` at fault."""

from __future__ import annotations

from typing import Any, ClassVar

from qala.core.errors import Problem
from qala.core.i18n import _


class IotProblem(Problem):
    """A problem whose body also says ``name`` and ``message`` as the IoT Agent does."""

    code: ClassVar[str] = "WRONG_SYNTAX"

    def __init__(self, detail: str = "", *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(detail, name=self.code, message=detail, **extra)


class WrongSyntax(IotProblem):
    """The body or a parameter does not follow the IoT Agent format."""

    status = 400
    slug = "iot-wrong-syntax"
    title = _("The request does not follow the IoT Agent format")


class MissingParameters(IotProblem):
    """A mandatory parameter or header is missing."""

    status = 400
    slug = "iot-missing-parameters"
    title = _("A mandatory parameter is missing")
    code = "MANDATORY_PARAMS_NOT_FOUND"


class GroupNotFound(IotProblem):
    """No device group with that apikey (in the caller's city)."""

    status = 404
    slug = "iot-group-not-found"
    title = _("No such device group")
    code = "DEVICE_GROUP_NOT_FOUND"


class DeviceNotFound(IotProblem):
    """No device with that id (in the caller's city and service path)."""

    status = 404
    slug = "iot-device-not-found"
    title = _("No such device")
    code = "DEVICE_NOT_FOUND"


class DuplicateGroup(IotProblem):
    """A group with that apikey exists already."""

    status = 409
    slug = "iot-duplicate-group"
    title = _("A device group with this apikey exists")
    code = "DUPLICATE_GROUP"


class DuplicateDevice(IotProblem):
    """A device with that id exists already in the group."""

    status = 409
    slug = "iot-duplicate-device"
    title = _("A device with this id exists")
    code = "DUPLICATE_DEVICE_ID"


class UnsupportedContentType(IotProblem):
    """The measurement body is not of a type the agent reads."""

    status = 415
    slug = "iot-unsupported-content-type"
    title = _("Unsupported content type")
    code = "UNSUPPORTED_CONTENT_TYPE"


class StoreBusy(IotProblem):
    """The database stayed busy (locked) through every retry; the device should resend."""

    status = 503
    slug = "iot-store-busy"
    title = _("The data hub is busy; try again")
    code = "STORE_BUSY"
