"""Lexical retrieval: BM25 (bm25s) over chunk text, with English stop words and Snowball stemming.

Rebuilt in full at each ingest (bm25s indexes about a million short passages in a few minutes);
loaded memory-mapped for queries. `allowed` masks chunks out before the top-k is cut.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

FOLDER = "bm25"
IDS_FILE = "chunk_ids.npy"


def _bm25s():
    """bm25s, imported on first use; its import sets its logger to DEBUG, so quiet it afterwards."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _tokenize(texts: list[str]):
    import Stemmer

    bm25s = _bm25s()

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=False, show_progress=False)


class SparseIndex:
    def __init__(self, retriever, ids: np.ndarray) -> None:
        self.retriever = retriever
        self.ids = ids
        self._sorted = bool(np.all(ids[1:] > ids[:-1]))

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> "SparseIndex":
        bm25s = _bm25s()

        retriever = bm25s.BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever if texts else None, np.asarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        target = folder / FOLDER
        target.mkdir()
        np.save(target / IDS_FILE, self.ids)
        if self.retriever is not None:
            self.retriever.save(str(target), show_progress=False)
        (target / "meta.json").write_text(json.dumps({"chunks": int(len(self.ids))}))

    @classmethod
    def load(cls, folder: Path) -> "SparseIndex":
        bm25s = _bm25s()

        target = folder / FOLDER
        ids = np.load(target / IDS_FILE)
        retriever = bm25s.BM25.load(str(target), mmap=True, show_progress=False) if len(ids) else None
        return cls(retriever, ids)

    def _mask(self, allowed: np.ndarray) -> np.ndarray:
        """1.0 at the rows of the allowed chunk ids. Rows are in chunk-id order (the index is built
        from the store in id order), so a binary search per allowed id replaces a pass over all rows."""
        mask = np.zeros(len(self.ids), dtype=np.float32)
        if self._sorted:
            rows = np.searchsorted(self.ids, allowed)
            rows = rows[rows < len(self.ids)]
            mask[rows[np.isin(self.ids[rows], allowed)]] = 1.0
        else:
            mask[np.isin(self.ids, allowed)] = 1.0
        return mask

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to k (chunk id, BM25 score) pairs with a positive score, best first."""
        if self.retriever is None or k <= 0:
            return []
        tokens = _tokenize([query])
        if not tokens or not tokens[0]:
            return []
        mask = None
        if allowed is not None:
            mask = self._mask(np.asarray(allowed, dtype=np.int64))
            if not mask.any():
                return []
        docs, scores = self.retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False,
                                               weight_mask=mask, n_threads=1)
        return [(int(self.ids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
