"""A small in-process cache whose entries expire, for hot look-ups (tokens, cities)."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Keeps up to ``size`` values for ``seconds`` each; thread-safe, oldest evicted first."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The live value under ``key``, or None."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            self._items.pop(key, None)
            return None
        return value

    def put(self, key: str, value: V, seconds: float | None = None) -> None:
        """Keep ``value`` under ``key``."""
        ttl = self.seconds if seconds is None else min(seconds, self.seconds)
        with self._lock:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        """Forget everything (after a revocation or a role change)."""
        with self._lock:
            self._items.clear()
