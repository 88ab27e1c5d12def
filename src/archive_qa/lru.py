"""A bounded, thread-safe map that drops its least recently used entry: for values derived from stored rows."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """At most `size` values (never None) by key; `get` makes a missing one outside the lock, so two threads asking
    at once may both make it, and the last one made is kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of `key`, made by `make` and kept when absent."""
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found
        made = make()
        with self._lock:
            self._values[key] = made
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return made

    def __len__(self) -> int:
        return len(self._values)
