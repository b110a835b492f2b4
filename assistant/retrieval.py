"""Hybrid retrieval: dense (FAISS or Milvus) and BM25 candidates, filtered first, fused by reciprocal
rank, then the top candidates re-ranked by a learned model.

Fused score = sum over the two rankings of 1/(rrf_k + rank), divided by its maximum 2/(rrf_k + 1),
so a passage ranked first by both retrievers scores 1.0. The re-ranking is a logistic regression over
features of each candidate (`candidate_features`: dense and BM25 scores and ranks of the chunk and of
its paper, and how the paper's title, date, committee and items agree with what the question names),
fitted on the dev halves of the eval suites by `bench/tune_retrieval.py` (`make tune`) and stored as
data in `assistant/models/retrieval.json`; at run time it is a dot product and a sigmoid, no sklearn.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from .chunking import INSTRUCTION
from .embedding import Encoder
from .index import Index
from .query_cues import (QueryCues, body_agreement, content_words, date_agreement, item_agreement, named_councils,
                         named_words, query_cues, title_overlap)
from .types import DocumentMeta, Passage, SearchFilters

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).parent / "models" / "retrieval.json"
RERANK_DEPTH = 40
# the most of the k passages one paper takes while another paper's chunk waits; chosen on the dev halves
# (1/8, 1/4, 3/8, 1/2 and no limit tried: 3/8 kept answer accuracy, with more citation precision than 1/4)
PAPER_SHARE = 0.375


def rrf_fuse(rankings: list[list[int]], rrf_k: int = 60,
             weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of several best-first id lists, each counted with its weight (default
    1); (id, normalised score), best first.

    Ties are broken by the best rank any list gave the id, then by id, so the order is deterministic.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = defaultdict(float)
    best: dict[int, int] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] += weight / (rrf_k + rank)
            best[item] = min(best.get(item, rank), rank)
    top = sum(weights) / (rrf_k + 1) if rankings else 1.0
    ordered = sorted(scores, key=lambda i: (-scores[i], best[i], i))
    return [(i, scores[i] / top) for i in ordered]


# -- the learned re-ranking ---------------------------------------------------------------------------

FEATURES = ("sparse", "sparse_doc_rr", "sparse_first", "dense", "dense_doc_rr", "rrf_doc_rr", "coverage", "bigrams",
            "names", "title", "date_match", "date_mismatch", "body", "item")


def text_agreement(query_words: list[str], names: set[str], text: str) -> tuple[float, float, float]:
    """(share of the query's content words in `text`, share of its adjacent content-word pairs found
    adjacent in `text`, share of its named things in `text`)."""
    words = content_words(text)
    have = set(words)
    wanted = set(query_words)
    pairs = {(a, b) for a, b in zip(query_words, query_words[1:]) if a != b}
    present = set(zip(words, words[1:]))
    return (len(wanted & have) / len(wanted) if wanted else 0.0,
            len(pairs & present) / len(pairs) if pairs else 0.0,
            len(names & have) / len(names) if names else 0.0)


@dataclass(frozen=True)
class Candidate:
    """A chunk among the top fused candidates, with what the features read of it."""

    id: int
    meta: DocumentMeta
    text: str
    dense: float | None
    dense_rank: int | None
    sparse: float | None
    sparse_rank: int | None
    rrf: float
    instructing: bool = False  # the text addresses a machine (INSTRUCTION), as fusion found it


def _doc_ranks(best: dict[str, float]) -> dict[str, int]:
    """1-based rank of each paper by its best value (higher first; ties by doc_id)."""
    return {doc: n for n, doc in enumerate(sorted(best, key=lambda d: (-best[d], d)), start=1)}


def candidate_features(query: str, candidates: list[Candidate]) -> tuple[list[str], np.ndarray]:
    """The candidate papers (doc_ids, in order of their best fused chunk) and one row of `FEATURES`
    each: the best BM25 score of its chunks over the query's best, the paper's rank by it and whether
    it is BM25's first paper (so BM25's choice can stand where the dense scores say little), the best
    dense cosine and the paper's rank by it, the paper's rank by its best fused (RRF) score; the best
    chunk's share of the question's content words, of its word pairs and of its named things
    (capitalised words); title and committee words shared with the question; date, body and item
    agreement (`query_cues`).

    Papers, not chunks, are ranked: the question asks which paper holds the answer, and a chunk's
    own scores are noisy where a paper's best are not."""
    cues = query_cues(query)
    query_words, names = content_words(query), named_words(query)
    dense_known = [c.dense for c in candidates if c.dense is not None]
    dense_floor = min(dense_known, default=0.0)
    sparse_top = max((c.sparse for c in candidates if c.sparse), default=0.0) or 1.0
    docs: dict[str, dict] = {}
    for c in candidates:
        doc = docs.setdefault(c.meta.doc_id, {"meta": c.meta, "sparse": 0.0, "dense": dense_floor, "rrf": 0.0,
                                              "item": 0.0, "coverage": 0.0, "bigrams": 0.0, "names": 0.0})
        doc["sparse"] = max(doc["sparse"], (c.sparse or 0.0) / sparse_top)
        doc["dense"] = max(doc["dense"], c.dense if c.dense is not None else dense_floor)
        doc["rrf"] = max(doc["rrf"], c.rrf)
        doc["item"] = max(doc["item"], item_agreement(cues, c.text, c.meta.title))
        agreement = text_agreement(query_words, names, f"{c.meta.title}\n{c.text}")
        for name, value in zip(("coverage", "bigrams", "names"), agreement):
            doc[name] = max(doc[name], value)
    sparse_rank = _doc_ranks({d: f["sparse"] for d, f in docs.items()})
    dense_rank = _doc_ranks({d: f["dense"] for d, f in docs.items()})
    rrf_rank = _doc_ranks({d: f["rrf"] for d, f in docs.items()})
    out = np.zeros((len(docs), len(FEATURES)), dtype=np.float64)
    for row, (doc, f) in enumerate(docs.items()):
        match, mismatch = date_agreement(cues, f["meta"].date)
        out[row] = (f["sparse"], 1.0 / sparse_rank[doc], float(sparse_rank[doc] == 1), f["dense"],
                    1.0 / dense_rank[doc], 1.0 / rrf_rank[doc], f["coverage"], f["bigrams"], f["names"],
                    title_overlap(cues, f["meta"]), match, mismatch, body_agreement(cues, f["meta"]), f["item"])
    return list(docs), out


def named_papers(query: str, candidates: list[Candidate]) -> set[str]:
    """The candidate papers that carry what the question names: every word of a named body ("the
    Audit Committee") in the paper's committee or title; a named item ("item 7") in one of its chunks;
    a named month or day ("at the January meeting", "on 15 June", "in February 2025") in the paper's
    date. Papers that carry all that is named, else those that carry the first of body, item, date
    that any paper carries. Empty when the question names none or no candidate carries it."""
    cues = query_cues(query)
    dated = [d for d in cues.dates if d[1] is not None]  # years alone are left to the learned weights
    if not (cues.bodies or cues.items or dated):
        return set()
    month_cues = QueryCues(dates=tuple(dated))
    sets = [{c.meta.doc_id for c in candidates if cues.bodies and body_agreement(cues, c.meta) == 1.0},
            {c.meta.doc_id for c in candidates if cues.items and item_agreement(cues, c.text, c.meta.title)},
            {c.meta.doc_id for c in candidates if dated and date_agreement(month_cues, c.meta.date)[0] == 1.0}]
    found = [one for one in sets if one]
    if not found:
        return set()
    return set.intersection(*found) or found[0]


def rerank(query: str, candidates: list[Candidate], model: RerankModel, k: int,
           evidence_only: bool = False) -> list[tuple[Candidate, float]]:
    """The top `k` candidates by `model`'s score of their papers, with that score; papers carrying the
    body or item the question names (`named_papers`) come first, as a filter would put them, without
    dropping the others. Chunks that address a machine (INSTRUCTION) are scored but set no other
    paper's features (best BM25 score, ranks): a paper stuffed with the corpus's topics would otherwise
    reorder the rest. `evidence_only`: they take none of the `k` places either (an answer's passages)."""
    if not candidates:
        return []
    plain = [c for c in candidates if not c.instructing]
    docs, x = candidate_features(query, plain or candidates)
    scores = dict(zip(docs, model.scores(x).tolist()))
    if len(plain) < len(candidates):
        docs, x = candidate_features(query, candidates)
        scores.update((d, s) for d, s in zip(docs, model.scores(x).tolist()) if d not in scores)
    return order_passages(plain if evidence_only else candidates, scores, k, named_papers(query, candidates))


def order_passages(candidates: list[Candidate], doc_scores: dict[str, float], k: int,
                   preferred: set[str] = frozenset()) -> list[tuple[Candidate, float]]:
    """The top `k` candidates with their papers' scores: `preferred` papers first, then papers best
    first, each paper's chunks in fused order, but no paper takes more than `PAPER_SHARE` of the `k`
    places while another paper's chunk waits, so the passages read for a question that spans two
    papers include both."""

    def key(c: Candidate) -> tuple:
        return (c.meta.doc_id not in preferred, -doc_scores[c.meta.doc_id], -c.rrf)

    ordered = sorted(candidates, key=key)
    cap = max(1, int(k * PAPER_SHARE))
    taken: dict[str, int] = defaultdict(int)
    first, rest = [], []
    for c in ordered:
        (first if taken[c.meta.doc_id] < cap else rest).append(c)
        taken[c.meta.doc_id] += 1
    chosen = sorted((first + rest)[:k], key=key)
    return [(c, doc_scores[c.meta.doc_id]) for c in chosen]


@dataclass(frozen=True)
class RerankModel:
    """Logistic regression over a paper's standardised `FEATURES`: the probability that the paper holds
    the answer, sigmoid(((x - mean) / scale) · coef + intercept)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def scores(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self, **extra) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, **extra}

    @classmethod
    def from_json(cls, data: dict) -> "RerankModel":
        features = tuple(data["features"])
        if features != FEATURES:
            raise ValueError(f"features {features} differ from this version's {FEATURES}; re-run `make tune`")
        return cls(features, np.asarray(data["mean"], float), np.asarray(data["scale"], float),
                   np.asarray(data["coef"], float), float(data["intercept"]))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> RerankModel | None:
    """The fitted re-ranking model, or None (fused ranking kept) when the file is absent or stale."""
    try:
        return RerankModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        log.warning("%s: not used (%s)", path, exc)
        return None


_TITLED: dict[tuple[str, tuple[str, ...], bool], bool] = {}
_TITLED_LOCK = threading.Lock()


def titled_elsewhere(index: Index, councils: tuple[str, ...], public_only: bool = False) -> bool:
    """Whether a paper of another council has a title naming one of `councils` (`named_councils`),
    so that a question naming them needs the search beyond their papers; read once per index build
    (builds are never changed in place) and kept."""
    key = (str(index.folder), councils, public_only)
    with _TITLED_LOCK:
        known = _TITLED.get(key)
    if known is None:
        known = any(meta.council not in councils and named_councils(meta.title, list(councils))
                    for meta, _ in index.store.documents(public_only=public_only))
        with _TITLED_LOCK:
            if len(_TITLED) > 1024:
                _TITLED.clear()
            _TITLED[key] = known
    return known


class HybridRetriever:
    """Dense and BM25 candidates, fused by RRF, the top `rerank_depth` re-ranked by `model` (the
    packaged one by default; None keeps the fused order)."""

    def __init__(self, index: Index, encoder: Encoder, candidates: int = 50, rrf_k: int = 60,
                 sparse_weight: float = 1.0, model: RerankModel | None | str = "packaged",
                 rerank_depth: int = RERANK_DEPTH) -> None:
        self.index = index
        self.encoder = encoder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.sparse_weight = sparse_weight
        self.model = load_model() if model == "packaged" else model
        self.rerank_depth = rerank_depth

    def candidates_for(self, query: str, depth: int, filters: SearchFilters = SearchFilters(),
                       councils_named: tuple[str, ...] = ()) -> tuple[list[Candidate], dict[int, tuple]]:
        """The top `depth` fused candidates, best first, and their stored rows. Chunks that address a
        machine (INSTRUCTION) are fused apart: a chunk stuffed with the corpus's topics would otherwise
        take a place in the dense and sparse lists and move every other paper's fused score.

        `councils_named` (the councils the question names, `named_councils`; ignored when `filters`
        already choose councils) keeps the candidates to those councils' papers, then adds the top
        candidates of the whole corpus from papers whose title names one of them: a parish's copy of
        its district councillor's report ("Brackenmoor District Council - January 2026: district
        councillor's report") answers a question about the district without being the district's paper."""
        vector = self.encoder.embed_query(query)
        if not councils_named or filters.councils:
            return self._fused(query, vector, depth, filters)
        scoped, rows = self._fused(query, vector, depth, replace(filters, councils=councils_named))
        if not titled_elsewhere(self.index, councils_named, filters.public_only):
            return scoped, rows
        wider, wider_rows = self._fused(query, vector, depth, filters)
        seen = {c.id for c in scoped}
        about = [c for c in wider if c.id not in seen and c.meta.council not in councils_named
                 and named_councils(c.meta.title, list(councils_named))]
        return scoped + about, rows | {c.id: wider_rows[c.id] for c in about}

    def _fused(self, query: str, vector: np.ndarray, depth: int, filters: SearchFilters
               ) -> tuple[list[Candidate], dict[int, tuple]]:
        """`candidates_for` within `filters` alone, for the query and its embedding `vector`."""
        allowed = self.index.store.matching_ids(filters) if filters.active else None
        if allowed is not None and len(allowed) == 0:
            return [], {}
        pool = max(self.candidates, depth)
        dense = self.index.vectors.search(vector, pool, allowed, filters)
        if filters.public_only:  # a vector store that filters only on metadata (Milvus) may return others
            permitted = set(allowed.tolist())
            dense = [(i, s) for i, s in dense if i in permitted]
        sparse_index, mask = self.index.sparse_for(filters, allowed)
        sparse = sparse_index.search(query, pool, mask)
        lists = [[i for i, _ in dense], [i for i, _ in sparse]]
        rows = self.index.store.chunks(list(dict.fromkeys(lists[0] + lists[1])))
        instructing = {i for i, row in rows.items() if INSTRUCTION.search(row[0].text)}
        fused = rrf_fuse([[i for i in ids if i not in instructing] for ids in lists], self.rrf_k,
                         [1.0, self.sparse_weight])
        if instructing:
            # ranked among all, but holding no place that shifts the others' fused scores
            fused += [(i, score) for i, score in rrf_fuse(lists, self.rrf_k, [1.0, self.sparse_weight])
                      if i in instructing]
            fused.sort(key=lambda pair: -pair[1])
        fused = fused[:depth]
        dense_at = {i: (s, r) for r, (i, s) in enumerate(dense, start=1)}
        sparse_at = {i: (s, r) for r, (i, s) in enumerate(sparse, start=1)}
        return [Candidate(id=i, meta=rows[i][1], text=rows[i][0].text, dense=dense_at.get(i, (None, None))[0],
                          dense_rank=dense_at.get(i, (None, None))[1], sparse=sparse_at.get(i, (None, None))[0],
                          sparse_rank=sparse_at.get(i, (None, None))[1], rrf=score, instructing=i in instructing)
                for i, score in fused if i in rows], rows

    def search(self, query: str, k: int, filters: SearchFilters = SearchFilters(),
               councils_named: tuple[str, ...] = (), evidence_only: bool = False) -> list[Passage]:
        """The top `k` passages for `query` within `filters`; `councils_named` as in `candidates_for`.
        `evidence_only` (the passages an answer reads): passages that address a machine (INSTRUCTION)
        take no place, so a notice cannot push a real paper out; search lists them as any other."""
        depth = max(k, self.rerank_depth) if self.model is not None else k
        candidates, rows = self.candidates_for(query, depth, filters, councils_named)
        scored = rerank(query, candidates, self.model, k, evidence_only) if self.model is not None else [
            (c, c.rrf) for c in candidates if not (evidence_only and c.instructing)][:k]
        return [
            Passage(chunk=rows[c.id][0], meta=c.meta, score=float(score), rank=rank, dense_score=c.dense,
                    sparse_score=c.sparse, sentence_vectors=rows[c.id][2])
            for rank, (c, score) in enumerate(scored, start=1)
        ]
