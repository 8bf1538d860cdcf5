"""Hot answers without a round trip: a per-process cache of read-model query results, kept
exactly as fresh as the read models themselves.

A profile of `GET /v1/me/accounts` showed the request thread spending 77 % of its time in
psycopg round trips and another 22 % waiting for a pooled connection; answering from memory is
what brings a read near the framework's floor. Correctness comes from the projections' own
progress notifications, which carry what each committed batch wrote:

- every cached answer records the read model it came from, the log position it reflects
  (`as_of`, read in the same snapshot) and the keys it depends on (`payer_id=…`,
  `account_id=…`);
- `changed(positions, keys)` is called, in commit order, for every batch a projection commits:
  it drops each answer that depends on a key the batch wrote past the answer's `as_of`, then
  moves the model's `seen` position; `keys=None` (a batch too large to list, or a rebuild
  swapped in) drops them all;
- so an answer still cached is what a fresh read would return at `max(as_of, seen)`, and it is
  served as of that position (read-your-writes: only when that reaches the asked position).
A lost notification would break this, so the cache starts cold and `reset` empties it whenever
the listener (re)connects; an answer read before the last reset is not kept.

`observed(model)` is how far this process has seen the model by any path: the read-your-writes
watcher also re-reads the tracking table when a notification is late, without knowing which
keys moved. An answer older than that is not served (a miss reads the store), so a read after
`wait_for(p)` never shows less than `p`, however the watcher learnt of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 50_000
MAX_CHANGED = 200_000
NEVER = 1 << 62


@dataclass(frozen=True)
class Entry:
    model: str
    value: Any
    as_of: int
    deps: frozenset[str]


class ReadCache:
    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        observed: Callable[[str], int] | None = None,
    ) -> None:
        self.max_entries = max_entries
        self._observed = observed
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Entry] = {}
        self._by_dep: dict[str, set[Hashable]] = {}
        self._changed: dict[str, int] = {}
        """Key -> the newest position that wrote it, since `_floor` (for answers read from a
        snapshot older than a change that has already been announced)."""
        self._seen: dict[str, int] = {}
        self._floor = NEVER  # cold until the first reset: nothing is kept
        self.hits = 0
        self.misses = 0

    def reset(self, positions: dict[str, int]) -> None:
        """Start over from these positions (the read models' tracking, read after LISTEN)."""
        with self._lock:
            self._entries.clear()
            self._by_dep.clear()
            self._changed.clear()
            self._seen = dict(positions)
            self._floor = min(positions.values(), default=0)

    def changed(self, positions: dict[str, int], keys: Iterable[str] | None) -> None:
        with self._lock:
            if self._floor == NEVER:
                return
            if keys is None:
                self._entries.clear()
                self._by_dep.clear()
                self._changed.clear()
                self._floor = max(self._floor, max(positions.values(), default=0))
            else:
                position = max(positions.values(), default=0)
                for key in keys:
                    self._changed[key] = position
                    for name in list(self._by_dep.get(key, ())):
                        entry = self._entries[name]
                        if entry.as_of < position:
                            self._drop(name, entry)
                if len(self._changed) > MAX_CHANGED:
                    # Forget old changes; answers read before now can no longer be checked.
                    self._changed.clear()
                    self._floor = max(self._floor, position)
            for model, position in positions.items():
                # Without keys (a large batch, or a rebuild swapped in) the model is exactly
                # there, even if that is behind what was seen before the swap.
                if keys is None or position > self._seen.get(model, 0):
                    self._seen[model] = position

    def get(self, name: Hashable, min_position: int = 0) -> tuple[Any, int] | None:
        """(value, as_of) if cached and at least as new as `min_position`."""
        entry = self._entries.get(name)
        if entry is None:
            self.misses += 1
            return None
        as_of = max(entry.as_of, self._seen.get(entry.model, 0))
        if self._observed is not None:
            min_position = max(min_position, self._observed(entry.model))
        if as_of < min_position:
            self.misses += 1
            return None
        self.hits += 1
        return entry.value, as_of

    def put(self, name: Hashable, model: str, value: Any, as_of: int, deps: Iterable[str]) -> None:
        deps = frozenset(deps)
        with self._lock:
            if as_of < self._floor or any(self._changed.get(d, 0) > as_of for d in deps):
                return  # a change it does not show was already announced
            old = self._entries.get(name)
            if old is not None:
                if old.as_of >= as_of:
                    return
                self._drop(name, old)
            if len(self._entries) >= self.max_entries:
                self._drop(*next(iter(self._entries.items())))  # the oldest insertion
            self._entries[name] = Entry(model, value, as_of, deps)
            for dep in deps:
                self._by_dep.setdefault(dep, set()).add(name)

    def _drop(self, name: Hashable, entry: Entry) -> None:
        del self._entries[name]
        for dep in entry.deps:
            names = self._by_dep.get(dep)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_dep[dep]

    def __len__(self) -> int:
        return len(self._entries)
