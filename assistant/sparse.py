"""Lexical retrieval: BM25 (bm25s) over chunk text, with English stop words and Snowball stemming.

Rebuilt in full at each ingest, streamed from the chunk store (`SparseIndex.build_streamed`): two
passes over batches of text (vocabulary and document frequencies, then scores), so the build holds the
score matrix but never the archive's text or tokens; loaded memory-mapped for queries. `allowed`
masks chunks out before the top-k is cut.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Iterable

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

    @classmethod
    def build_streamed(cls, batches: Callable[[], Iterable[list[tuple[int, str]]]]) -> "SparseIndex":
        """The index `build` makes of the same (chunk id, text) rows, with the same scores, built from
        `batches()` (called twice; each call yields the rows again, in the same order) so that peak
        memory is the score matrix and one batch, not the whole archive's text and tokens."""
        bm25s = _bm25s()
        from bm25s import scoring
        import scipy.sparse as sp

        retriever = bm25s.BM25()
        vocab: dict[str, int] = {}
        frequencies: list[int] = []
        id_parts, total_length = [], 0
        for rows in batches():
            id_parts.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
            for tokens in _tokenize([r[1] for r in rows]):
                total_length += len(tokens)
                for token in set(tokens):
                    row = vocab.setdefault(token, len(vocab))
                    if row == len(frequencies):
                        frequencies.append(0)
                    frequencies[row] += 1
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
        if not len(ids):
            return cls(None, ids)
        n_docs, n_vocab = len(ids), len(vocab)
        avg_doc_len = np.float64(total_length) / n_docs  # a NumPy float, as bm25s has it: scores in float64
        idf = scoring._build_idf_array(dict(enumerate(frequencies)), n_docs,
                                       scoring._select_idf_scorer(retriever.idf_method), retriever.dtype)
        del frequencies
        tfc_of = scoring._select_tfc_scorer(retriever.method)
        blocks = []
        for rows in batches():
            data, columns, indptr = [], [], [0]
            for tokens in _tokenize([r[1] for r in rows]):
                columns_doc, tf = scoring._get_counts_from_token_ids(
                    [vocab[t] for t in tokens], retriever.dtype, retriever.int_dtype)
                tfc = tfc_of(tf_array=tf, l_d=len(tokens), l_avg=avg_doc_len, k1=retriever.k1, b=retriever.b,
                             delta=retriever.delta)
                data.append(idf[columns_doc] * tfc)
                columns.append(columns_doc)
                indptr.append(indptr[-1] + len(columns_doc))
            blocks.append(sp.csr_matrix(
                (np.concatenate(data).astype(retriever.dtype), np.concatenate(columns), np.asarray(indptr)),
                shape=(len(rows), n_vocab), dtype=retriever.dtype))
        matrix = sp.vstack(blocks, format="csr")
        del blocks
        matrix = matrix.tocsc()
        retriever.scores = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr,
                            "num_docs": n_docs}
        del matrix
        retriever.nonoccurrence_array = None
        vocab[""] = n_vocab  # bm25s's empty token, which scores no document
        retriever.vocab_dict = vocab
        retriever.unique_token_ids_set = set(vocab.values())
        return cls(retriever, ids)

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
