"""One bound on label sets for every family: past ``cap``, new ones fold into
``<overflow>`` and ``lantern_label_overflow_total`` counts each fold.

HTTP requests, queries, cache operations, readiness checks and background
task names all go through :class:`CappedFamily`, so every cap is counted the
same way and shows on the same alert.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from prometheus_client import Counter

OVERFLOW = "<overflow>"

M = TypeVar("M")


class CappedFamily(Generic[M]):
    """Children of one labelled metric, keyed by a cheap key, at most ``cap`` label sets.

    ``fast`` maps a caller's key to its child and is read without a lock (a
    dict read is atomic under the GIL); writes happen under the lock, once per
    new key. Keys that overflowed are not stored, so each later observation
    with them is counted as a fold too.
    """

    __slots__ = ("_lock", "_overflow", "arity", "cap", "children", "fast", "make", "name")

    def __init__(
        self, make: Callable[[tuple[str, ...]], M], name: str, arity: int, cap: int, overflow: Counter
    ) -> None:
        self.make = make
        self.name = name
        self.arity = arity
        self.cap = cap
        self._overflow = overflow
        self._lock = threading.Lock()
        self.fast: dict[Hashable, M] = {}
        self.children: dict[tuple[str, ...], M] = {}

    def resolve(self, key: Hashable, values: tuple[str, ...]) -> M:
        """The slow path, for a key seen for the first time: its label values."""
        with self._lock:
            child = self.children.get(values)
            if child is None:
                if len(self.children) >= self.cap:
                    self._overflow.inc()
                    values = (OVERFLOW,) * self.arity
                    child = self.children.get(values)
                    if child is None:
                        # The overflow set is the one allowed past the cap.
                        child = self.children[values] = self.make(values)
                    return child
                child = self.children[values] = self.make(values)
            self.fast[key] = child
            return child
