"""The caches the Assistant shares between threads, hammered from many threads at once.

The served app calls one `Assistant` from many threads with no lock around it, so the answerer's
sentence-vector cache and the embedder's query cache must stay consistent when threads read, add and
evict at the same moment. A hash-seeded fake encoder stands in for the model (the caches, not the
vectors, are under test); a tiny switch interval makes the threads interleave inside the caches.
"""
from __future__ import annotations

import hashlib
import random
import sys
import threading

import numpy as np
import pytest

THREADS = 8
CALLS_PER_THREAD = 400
DIMENSION = 8


def fake_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


class FakeEncoder:
    dimension = DIMENSION

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return np.stack([fake_vector(t) for t in texts])


def hammer(call, texts: list[str]) -> tuple[list[str], int]:
    """Run `call(rng)` CALLS_PER_THREAD times in each of THREADS threads started together; (the errors
    raised, the calls made)."""
    errors: list[str] = []
    calls = [0]
    start = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(CALLS_PER_THREAD):
            try:
                call(rng)
                calls[0] += 1
            except Exception as exc:  # collected: the test asserts there are none
                errors.append(f"{type(exc).__name__}: {exc}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return errors, calls[0]


QUERY_CACHE = 8


@pytest.fixture
def embedder(monkeypatch):
    from assistant import embedding
    from assistant.embedding import Embedder

    monkeypatch.setattr(embedding, "QUERY_CACHE", QUERY_CACHE)
    embedder = Embedder("all-MiniLM-L6-v2", runtime="torch")
    embedder._backend = FakeEncoder()
    return embedder


def test_the_answerers_sentence_vector_cache_is_consistent_under_many_threads(embedder):
    from assistant.answering import ExtractiveAnswerer

    cache = ExtractiveAnswerer(embedder.embed_passages).sentence_vectors
    cache.size = 16
    texts = [f"sentence number {n} of a council paper" for n in range(64)]
    wrong: list[str] = []

    def call(rng: random.Random) -> None:
        asked = rng.sample(texts, rng.randint(1, 12))
        rows = cache(asked)
        for text, row in zip(asked, rows):
            if not np.allclose(row, fake_vector(text)):
                wrong.append(text)

    errors, calls = hammer(call, texts)
    assert errors == [], f"{len(errors)} errors in {THREADS * CALLS_PER_THREAD} calls, e.g. {errors[:3]}"
    assert wrong == []
    assert calls == THREADS * CALLS_PER_THREAD
    assert len(cache._vectors) <= 16


def test_the_embedders_query_cache_is_consistent_under_many_threads(embedder):
    queries = [f"question {n} about the budget" for n in range(40)]
    wrong: list[str] = []

    def call(rng: random.Random) -> None:
        query = rng.choice(queries)
        if not np.allclose(embedder.embed_query(query), fake_vector(query)):
            wrong.append(query)

    errors, _ = hammer(call, queries)
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    assert wrong == []
    assert len(embedder._queries) <= QUERY_CACHE
