"""Hybrid retrieval: dense (FAISS or Milvus) and BM25 candidates, filtered first, fused by reciprocal rank.

Fused score = sum over the two rankings of 1/(rrf_k + rank), divided by its maximum 2/(rrf_k + 1),
so a passage ranked first by both retrievers scores 1.0.
"""
from __future__ import annotations

import re
from collections import defaultdict


from .embedding import Embedder
from .index import Index
from .types import Passage, SearchFilters


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


_GENERIC_COUNCIL_WORDS = {"council", "borough", "metropolitan", "city", "county", "district", "of", "the",
                          "and", "royal", "london"}


def named_councils(query: str, councils: list[str]) -> tuple[str, ...]:
    """The councils among `councils` that the query names by their distinctive words ("Sefton" or
    "Sefton's" for "Sefton Council"), as whole words, case-insensitively."""
    lowered = query.lower().replace("’", "'")
    named = []
    for council in councils:
        words = [w for w in re.findall(r"[\w'-]+", council.lower()) if w not in _GENERIC_COUNCIL_WORDS]
        if words and re.search(r"\b" + r"\s+".join(map(re.escape, words)) + r"(?:'s)?\b", lowered):
            named.append(council)
    return tuple(named)


class HybridRetriever:
    def __init__(self, index: Index, embedder: Embedder, candidates: int = 50, rrf_k: int = 60,
                 sparse_weight: float = 1.0) -> None:
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.sparse_weight = sparse_weight

    def search(self, query: str, k: int, filters: SearchFilters = SearchFilters()) -> list[Passage]:
        allowed = self.index.store.matching_ids(filters) if filters.active else None
        if allowed is not None and len(allowed) == 0:
            return []
        pool = max(self.candidates, k)
        dense = self.index.vectors.search(self.embedder.embed_query(query), pool, allowed, filters)
        if filters.public_only:  # a vector store that filters only on metadata (Milvus) may return others
            permitted = set(allowed.tolist())
            dense = [(i, s) for i, s in dense if i in permitted]
        sparse_index, mask = self.index.sparse_for(filters, allowed)
        sparse = sparse_index.search(query, pool, mask)
        fused = rrf_fuse([[i for i, _ in dense], [i for i, _ in sparse]], self.rrf_k,
                         [1.0, self.sparse_weight])[:k]
        dense_scores, sparse_scores = dict(dense), dict(sparse)
        rows = self.index.store.chunks([i for i, _ in fused])
        return [
            Passage(chunk=rows[i][0], meta=rows[i][1], score=score, rank=rank,
                    dense_score=dense_scores.get(i), sparse_score=sparse_scores.get(i),
                    sentence_vectors=rows[i][2])
            for rank, (i, score) in enumerate(fused, start=1) if i in rows
        ]
