"""The hub of a running app: the entity store with the listeners that follow its changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import Request

from qala.hub.service import Hub
from qala.hub.subscriptions.service import match_change
from qala.hub.temporal.history import record_change, record_changes

if TYPE_CHECKING:
    from qala.core.runtime import Runtime


def default_hub() -> Hub:
    """A hub with the standard listeners (temporal history, subscriptions)."""
    return Hub(listeners=[record_change, match_change], batched={record_change: record_changes})


def hub_of(request: Request) -> Hub:
    """The app's hub, built on first use."""
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if hub is None:
        hub = default_hub()
        request.app.state.hub = hub
    return hub


def start_workers(runtime: Runtime) -> Callable[[], None]:
    """The hub manifest's ``workers``: notification delivery and the roll-up drainer; returns
    one stop for both."""
    from qala.hub.subscriptions import notify
    from qala.hub.temporal import pending

    stops = [notify.start(runtime), pending.start(runtime)]

    def stop() -> None:
        for each in reversed(stops):
            each()

    return stop
