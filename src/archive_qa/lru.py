"""A bounded, thread-safe map that drops its least recently used entries: for values derived from stored rows."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """Values (never None) by key, their costs (`cost`, 1 each by default) at most `size` in all, though the
    latest is always kept. `get` makes a missing value outside the lock, so two threads asking at once may
    both make it; the last one made is kept."""

    def __init__(self, size: int, cost: Callable[[V], int] = lambda _: 1) -> None:
        self.size = size
        self.total = 0  # the kept values' costs
        self._cost = cost
        self._values: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of `key`, made by `make` and kept when absent."""
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found[0]
        made = make()
        cost = self._cost(made)
        with self._lock:
            replaced = self._values.pop(key, None)
            self.total += cost - (replaced[1] if replaced else 0)
            self._values[key] = (made, cost)
            while self.total > self.size and len(self._values) > 1:
                self.total -= self._values.popitem(last=False)[1][1]
        return made

    def __len__(self) -> int:
        return len(self._values)
