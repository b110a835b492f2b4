"""Dense vector storage: a FAISS index keyed by chunk row ids, with deletion and id-filtered search.

Exact inner-product search (IndexFlatIP behind an IndexIDMap2): on normalised vectors this is
cosine similarity. Filters are applied inside the search through an id selector, so the top-k is
cut after filtering, never before. This is the only module that knows FAISS is in use.
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

FILE_NAME = "vectors.faiss"


class FaissVectors:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def create(cls, dimension: int) -> "FaissVectors":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "FaissVectors":
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return cls(faiss.read_index(str(folder / FILE_NAME), flags))

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / FILE_NAME))

    @property
    def dimension(self) -> int:
        return self.index.d

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to k (id, cosine) pairs, best first; `allowed` restricts the search to those ids."""
        if k <= 0 or len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(query, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]
