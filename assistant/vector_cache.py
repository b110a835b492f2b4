"""Vectors by text, kept in memory for reuse: the query cache and the answerer's sentence vectors (an
LRU cache shared by the app's threads).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import numpy as np


class VectorCache:
    """Vectors by text, least recently used dropped first; safe to share between threads.

    The lock guards the dictionary only: encoding runs outside it, so threads asking for different
    texts encode in parallel, and one slow encoding never holds up cache hits. Two threads missing the
    same text may both encode it (the vectors are equal); a text evicted between the look-up and the
    answer is still answered, from the vectors each call gathered for itself. 50,000 vectors of
    all-MiniLM-L6-v2 hold about 77 MB."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int = 50_000) -> None:
        self.embed = embed
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()

    def one(self, text: str) -> np.ndarray:
        """The held (read-only) vector of one text, encoded first when not held."""
        return self._gather([text])[text]

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One row per text, in order (encoding only the texts not already held)."""
        found = self._gather(texts)
        return np.stack([found[t] for t in texts])

    def _gather(self, texts: list[str]) -> dict[str, np.ndarray]:
        """{text: its vector} for `texts`: those held under the lock, the rest encoded outside it."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = dict(zip(missing, self.embed(missing)))
            for vector in fresh.values():
                vector.setflags(write=False)
            found.update(fresh)
            with self._lock:
                self._vectors.update(fresh)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return found
