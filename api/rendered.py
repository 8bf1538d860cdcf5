"""JSON bodies of hot answers, rendered once and sent again while the answer is the very same.

A cached history page keeps its `items` tuple (the read models' immutable result) until the
cache drops it, so the body rendered from that tuple can be reused as long as the tuple is the
same object: rendering 50 items through pydantic cost more than everything else on the path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

MAX_BODIES = 20_000


class RenderedBodies:
    def __init__(self, max_bodies: int = MAX_BODIES) -> None:
        self.max_bodies = max_bodies
        self._bodies: dict[Hashable, tuple[object, Hashable, bytes]] = {}
        self._lock = threading.Lock()

    def body(
        self, key: Hashable, source: object, detail: Hashable, render: Callable[[], bytes]
    ) -> bytes:
        """The body for `key`, rendered again unless it came from this very `source` object
        with an equal `detail`."""
        known = self._bodies.get(key)
        if known is not None and known[0] is source and known[1] == detail:
            return known[2]
        body = render()
        with self._lock:
            if len(self._bodies) >= self.max_bodies:
                self._bodies.clear()
            self._bodies[key] = (source, detail, body)
        return body
