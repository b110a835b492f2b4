"""Dense vector storage: a FAISS index keyed by chunk row ids, with deletion and id-filtered search.

The index type follows the corpus size (`kind_for`):
- up to FLAT_LIMIT vectors, exact inner-product search (IndexFlatIP behind an IndexIDMap2);
- beyond, an inverted-file index (IVF, Flat codes), nlist ≈ 2·sqrt(n) rounded to a power of two,
  with `nprobe` calibrated at build time for recall@10 ≥ TARGET_RECALL against exact search, then
  doubled as a margin.
The limit is where exact search stops fitting the 30 ms search budget on a 2-core machine: one
exact query over 100k chunks takes 13 ms (single thread), beside ~10 ms to encode the question and
~5 ms of BM25, and exact time grows linearly (about 130 ms at 1M); see README "Performance". On normalised vectors inner product is
cosine similarity. Filters are applied inside the search through an id selector, so the top-k is
cut after filtering, never before; a filter that leaves few chunks is searched exactly.
This module and `milvus_store.py` are the only ones that know which vector store is in use.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

FILE_NAME = "vectors.faiss"
FLAT_LIMIT = 100_000
TARGET_RECALL = 0.99
EXACT_FILTER_LIMIT = 20_000
_CALIBRATION_QUERIES = 300


def kind_for(n: int) -> str:
    return "flat" if n <= FLAT_LIMIT else "ivf"


def nlist_for(n: int) -> int:
    return 2 ** max(4, round(math.log2(2 * math.sqrt(max(n, 1)))))


class FaissVectors:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def create(cls, dimension: int) -> "FaissVectors":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, folder: Path) -> "FaissVectors":
        vectors = cls(faiss.read_index(str(folder / FILE_NAME)))
        if vectors.ivf is not None:
            vectors.ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        return vectors

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / FILE_NAME))

    @property
    def ivf(self) -> faiss.IndexIVF | None:
        return faiss.try_extract_index_ivf(self.index) if not isinstance(self.index, faiss.IndexIDMap2) else None

    @property
    def kind(self) -> str:
        return "flat" if self.ivf is None else "ivf"

    @property
    def description(self) -> str:
        ivf = self.ivf
        if ivf is None:
            return "faiss-flat-ip"
        return f"faiss-ivf{ivf.nlist}-flat-ip-nprobe{ivf.nprobe}"

    @property
    def dimension(self) -> int:
        return self.index.d

    def __len__(self) -> int:
        return self.index.ntotal

    @property
    def record(self) -> dict:
        """What the build's manifest keeps about the store (the vectors live in the build folder)."""
        return {"store": "faiss", "kind": self.kind}

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: list[dict] | None = None) -> None:
        """Store vectors under ids (`fields`, the documents' filter fields, are for stores that filter
        by them; FAISS filters by id)."""
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def update_fields(self, ids: np.ndarray, fields: list[dict]) -> None:
        """New filter fields for stored vectors (their document's metadata changed): nothing to do,
        since FAISS filters by id through the chunk store."""

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.ivf is not None:  # an IVF index's id hashtable takes an array selector
            return int(self.index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored, in storage order (used to rebuild as another kind)."""
        ivf = self.ivf
        if ivf is None:
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            flat = faiss.downcast_index(self.index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), len(ids) * self.dimension).reshape(len(ids), -1)
            return ids, np.array(vectors, dtype=np.float32)
        invlists = ivf.invlists
        ids, vectors = [], []
        for cell in range(ivf.nlist):
            size = invlists.list_size(cell)
            if size:
                ids.append(faiss.rev_swig_ptr(invlists.get_ids(cell), size).copy())
                codes = faiss.rev_swig_ptr(invlists.get_codes(cell), size * invlists.code_size)
                vectors.append(np.frombuffer(codes.tobytes(), dtype=np.float32).reshape(size, -1))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(ids).astype(np.int64), np.concatenate(vectors)

    def fitted(self) -> "FaissVectors":
        """This index, or the same vectors rebuilt as the kind their number calls for (also when an
        IVF index has grown to four times the size it was trained for)."""
        n = len(self)
        ivf = self.ivf
        wanted = kind_for(n)
        if wanted == self.kind and (ivf is None or nlist_for(n) <= 2 * ivf.nlist):
            return self
        ids, vectors = self.contents()
        if wanted == "flat":
            rebuilt = FaissVectors.create(self.dimension)
            rebuilt.add(ids, vectors)
            return rebuilt
        return FaissVectors.build_ivf(ids, vectors)

    @classmethod
    def build_ivf(cls, ids: np.ndarray, vectors: np.ndarray, nlist: int | None = None,
                  seed: int = 0) -> "FaissVectors":
        """An IVF index over the vectors, trained on a sample of them, nprobe calibrated."""
        n, dimension = vectors.shape
        nlist = nlist or nlist_for(n)
        index = faiss.index_factory(dimension, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))]
        log.info("training an IVF%d index on %d of %d vectors", nlist, len(sample), n)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        vectors_ = cls(index)
        # calibration queries: stored vectors moved away from themselves (cosine ≈ 0.5 to their
        # origin, about as far as a question from the passage that answers it; nearer ones made
        # nprobe too small for real questions: recall@10 0.87 at 1M chunks)
        origins = vectors[rng.choice(n, size=min(n, _CALIBRATION_QUERIES), replace=False)]
        queries = origins + rng.normal(scale=math.sqrt(3) / math.sqrt(dimension), size=origins.shape)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        vectors_.calibrate(queries, ids, vectors)
        return vectors_

    def calibrate(self, queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int = 10) -> float:
        """Set the smallest nprobe (doubling) whose recall@k against exact search over (ids, vectors)
        reaches TARGET_RECALL on `queries`; the recall reached."""
        ivf = self.ivf
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
        truth = np.asarray(ids)[exact.search(queries, k)[1]]
        recall, nprobe = 0.0, 1
        while True:
            ivf.nprobe = nprobe
            recall = recall_at(truth, self.index.search(queries, k)[1])
            if recall >= TARGET_RECALL or nprobe >= ivf.nlist:
                break
            nprobe = min(2 * nprobe, ivf.nlist)
        # real questions are not distributed like the calibration queries: keep a margin of 2x
        ivf.nprobe = min(2 * nprobe, ivf.nlist)
        log.info("IVF nprobe=%d: recall@%d %.3f against exact search at nprobe=%d", ivf.nprobe, k, recall, nprobe)
        return recall

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None,
               filters=None) -> list[tuple[int, float]]:
        """Up to k (id, cosine) pairs, best first; `allowed` (the chunk store's ids for `filters`)
        restricts the search to those ids."""
        if k <= 0 or len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        ivf = self.ivf
        if ivf is not None and allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            return self._exact(query[0], np.asarray(allowed, dtype=np.int64), k)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe) if ivf is not None
                      else faiss.SearchParameters(sel=selector))
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query gains nothing from threads, and on a busy machine
        try:                          # OpenMP's waiting threads made a 2 ms search take 30 ms
            scores, ids = self.index.search(query, min(k, len(self)), params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def _exact(self, query: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact search over a few allowed ids of an IVF index (their vectors looked up by id)."""
        ivf = self.ivf
        kept, rows = [], []
        for i in allowed:
            try:
                rows.append(ivf.reconstruct(int(i)))
                kept.append(int(i))
            except RuntimeError:  # not in the index
                continue
        if not kept:
            return []
        vectors = np.vstack(rows)
        scores = vectors @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [(kept[i], float(scores[i])) for i in order]


def recall_at(truth: np.ndarray, found: np.ndarray) -> float:
    """Mean share of each row of `truth` (exact top-k ids) found in the same row of `found`."""
    if len(truth) == 0:
        return 1.0
    hits = [len(set(t[t != -1]) & set(f[f != -1])) / max(1, int((t != -1).sum())) for t, f in zip(truth, found)]
    return float(np.mean(hits))
