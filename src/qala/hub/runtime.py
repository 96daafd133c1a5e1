"""The hub of a running app: the entity store with the listeners that follow its changes."""

from __future__ import annotations

from fastapi import Request

from qala.hub.service import Hub


def default_hub() -> Hub:
    """A hub with the standard listeners (temporal history, subscriptions)."""
    return Hub(listeners=[])


def hub_of(request: Request) -> Hub:
    """The app's hub, built on first use."""
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if hub is None:
        hub = default_hub()
        request.app.state.hub = hub
    return hub
