"""Lexical retrieval: BM25 (bm25s) over chunk text, tokenized by the one tokenizer (tokenizing.py),
which is saved beside the BM25 arrays so that a build is queried with the tokenizer it was built with.

Rebuilt in full at each ingest, streamed from the chunk store (`SparseIndex.build_streamed`): two
passes over batches of text (vocabulary and document frequencies, then scores), so the build holds the
score matrix but never the archive's text or tokens; loaded memory-mapped for queries. `allowed`
masks chunks out before the top-k is cut.
"""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import IndexMismatchError
from .tokenizing import Tokenizer, default_tokenizer, legacy_tokenizer

FOLDER = "bm25"
IDS_FILE = "chunk_ids.npy"
TOKENIZER_FILE = "tokenizer.json"


def _bm25s():
    """bm25s, imported on first use; its import sets its logger to DEBUG, so quiet it afterwards."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class SparseIndex:
    """BM25 over the chunks `ids`, with the `tokenizer` its texts were indexed with."""

    def __init__(self, retriever, ids: np.ndarray, tokenizer: Tokenizer | None = None) -> None:
        self.retriever = retriever
        self.ids = ids
        self.tokenizer = tokenizer or default_tokenizer()
        self._sorted = bool(np.all(ids[1:] > ids[:-1]))

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str], tokenizer: Tokenizer | None = None) -> "SparseIndex":
        """BM25 over `texts` (the chunks `ids`), tokenized by `tokenizer` (default: this version's)."""
        bm25s = _bm25s()

        tokenizer = tokenizer or default_tokenizer()
        retriever = bm25s.BM25()
        if texts:
            retriever.index(tokenizer.many(texts), show_progress=False)
        return cls(retriever if texts else None, np.asarray(ids, dtype=np.int64), tokenizer)

    @classmethod
    def build_streamed(cls, batches: Callable[[], Iterable[list[tuple[int, str]]]],
                       tokenizer: Tokenizer | None = None) -> "SparseIndex":
        """The index `build` makes of the same (chunk id, text) rows, with the same scores, built from
        `batches()` so that peak memory is the score matrix and one batch, not the whole archive's text
        and tokens. The first pass tokenizes, counts document frequencies and spills each batch's token
        ids to a temporary folder (4 bytes a token); the second scores them, batch by batch. Texts are
        tokenized by `tokenizer` (default: this version's), which the index keeps."""
        bm25s = _bm25s()
        tokenizer = tokenizer or default_tokenizer()
        from bm25s import scoring
        import scipy.sparse as sp

        retriever = bm25s.BM25()
        vocab: dict[str, int] = {}
        frequencies = np.zeros(0, dtype=np.int64)
        id_parts, total_length = [], 0
        with tempfile.TemporaryDirectory(prefix="bm25-") as spill:
            for n, rows in enumerate(batches()):
                id_parts.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
                tokens = tokenizer.many([r[1] for r in rows])
                lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
                flat = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in tokens for t in doc),
                                   dtype=np.int64, count=int(lengths.sum()))
                total_length += int(lengths.sum())
                rows_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
                present = np.unique(rows_of * len(vocab) + flat) % max(len(vocab), 1)
                frequencies = np.concatenate([frequencies, np.zeros(len(vocab) - len(frequencies), dtype=np.int64)])
                frequencies += np.bincount(present, minlength=len(vocab))
                np.save(Path(spill) / f"{n}-tokens.npy", flat.astype(np.int32))
                np.save(Path(spill) / f"{n}-lengths.npy", lengths)
            ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
            if not len(ids):
                return cls(None, ids, tokenizer)
            n_docs, n_vocab = len(ids), len(vocab)
            avg_doc_len = np.float64(total_length) / n_docs  # a NumPy float, as bm25s has it: scores in float64
            idf = scoring._build_idf_array(dict(enumerate(frequencies.tolist())), n_docs,
                                           scoring._select_idf_scorer(retriever.idf_method), retriever.dtype)
            del frequencies
            tfc_of = scoring._select_tfc_scorer(retriever.method)
            blocks = []
            for n in range(len(id_parts)):
                flat = np.load(Path(spill) / f"{n}-tokens.npy").astype(np.int64)
                lengths = np.load(Path(spill) / f"{n}-lengths.npy")
                rows_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
                pairs, counts = np.unique(rows_of * n_vocab + flat, return_counts=True)
                row, column = pairs // n_vocab, pairs % n_vocab
                tfc = tfc_of(tf_array=counts.astype(retriever.dtype), l_d=lengths[row], l_avg=avg_doc_len,
                             k1=retriever.k1, b=retriever.b, delta=retriever.delta)
                indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(lengths)))])
                blocks.append(sp.csr_matrix(((idf[column] * tfc).astype(retriever.dtype),
                                             column.astype(np.int32), indptr),
                                            shape=(len(lengths), n_vocab), dtype=retriever.dtype))
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
        return cls(retriever, ids, tokenizer)

    def save(self, folder: Path) -> None:
        target = folder / FOLDER
        target.mkdir()
        np.save(target / IDS_FILE, self.ids)
        if self.retriever is not None:
            self.retriever.save(str(target), show_progress=False)
        (target / "meta.json").write_text(json.dumps({"chunks": int(len(self.ids))}))
        (target / TOKENIZER_FILE).write_text(json.dumps(self.tokenizer.to_json()), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "SparseIndex":
        bm25s = _bm25s()

        target = folder / FOLDER
        ids = np.load(target / IDS_FILE)
        retriever = bm25s.BM25.load(str(target), mmap=True, show_progress=False) if len(ids) else None
        return cls(retriever, ids, recorded_tokenizer(folder))

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
        tokens = self.tokenizer.many([query])
        if not tokens[0]:
            return []
        mask = None
        if allowed is not None:
            mask = self._mask(np.asarray(allowed, dtype=np.int64))
            if not mask.any():
                return []
        docs, scores = self.retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False,
                                               weight_mask=mask, n_threads=1)
        return [(int(self.ids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def document_frequencies(self, words: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(chunks indexed, {word: chunks holding it}) for `words`, tokens of this index's tokenizer (a
        word it never saw holds 0). Read from the column pointers of the score matrix: no text is loaded,
        a few array reads a word whatever the archive's size."""
        if self.retriever is None:
            return 0, {w: 0 for w in words}
        vocab, indptr = self.retriever.vocab_dict, self.retriever.scores["indptr"]
        found = {}
        for w in words:
            j = vocab.get(w)
            found[w] = int(indptr[j + 1] - indptr[j]) if j is not None and j + 1 < len(indptr) else 0
        return len(self.ids), found


def recorded_tokenizer(folder: Path) -> Tokenizer:
    """The tokenizer the BM25 of the build in `folder` was indexed with (bm25s's defaults for a build
    made before tokenizers were recorded)."""
    path = folder / FOLDER / TOKENIZER_FILE
    if not path.is_file():
        return legacy_tokenizer()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexMismatchError(f"{path}: cannot read the tokenizer record ({exc}); rebuild the index with "
                                 "`council-assistant ingest --rebuild`") from exc
    return Tokenizer.from_json(data, str(path))
