from __future__ import annotations

import numpy as np
import pytest

from assistant import vectors as vectors_module
from assistant.vectors import FaissVectors, kind_for, nlist_for, recall_at


def clustered(n: int, dimension: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension))
    points = centres[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(vectors_module, "FLAT_LIMIT", 1_000)


def test_kind_follows_size(small_limit):
    assert kind_for(1_000) == "flat" and kind_for(1_001) == "ivf"
    assert nlist_for(1_000_000) == 2048 and nlist_for(250_000) == 1024 and nlist_for(10) == 16


def test_growing_past_the_limit_rebuilds_as_ivf_with_the_same_contents(small_limit):
    points = clustered(4_000)
    ids = np.arange(4_000, dtype=np.int64) * 7 + 3
    flat = FaissVectors.create(32)
    flat.add(ids[:900], points[:900])
    assert flat.fitted() is flat
    flat.add(ids[900:], points[900:])
    ivf = flat.fitted()
    assert ivf.kind == "ivf" and ivf.description.startswith("faiss-ivf") and len(ivf) == 4_000
    got_ids, got_vectors = ivf.contents()
    order = np.argsort(got_ids)
    np.testing.assert_array_equal(got_ids[order], ids)
    np.testing.assert_allclose(got_vectors[order], points)
    queries = clustered(200, seed=1)
    exact = np.array([[i for i, _ in flat.search(q, 10)] for q in queries])
    approx = np.array([[i for i, _ in ivf.search(q, 10)] for q in queries])
    assert recall_at(exact, approx) >= vectors_module.TARGET_RECALL - 0.05


def test_ivf_filters_deletes_and_round_trips(tmp_path, small_limit):
    points = clustered(3_000)
    ids = np.arange(3_000, dtype=np.int64)
    flat = FaissVectors.create(32)
    flat.add(ids, points)
    ivf = flat.fitted()
    query = points[5]
    allowed = ids[ids % 10 == 0]
    few = [i for i, _ in ivf.search(query, 5, allowed)]
    assert few == [i for i, _ in flat.search(query, 5, allowed)]  # a small filter is searched exactly
    monkey_limit = vectors_module.EXACT_FILTER_LIMIT
    try:
        vectors_module.EXACT_FILTER_LIMIT = 0  # through the IVF id selector instead
        assert all(i % 10 == 0 for i, _ in ivf.search(query, 5, allowed))
    finally:
        vectors_module.EXACT_FILTER_LIMIT = monkey_limit
    assert ivf.search(query, 1)[0][0] == 5
    assert ivf.remove(np.array([5, 6])) == 2 and len(ivf) == 2_998
    assert 5 not in [i for i, _ in ivf.search(query, 10)]
    assert 5 not in [i for i, _ in ivf.search(query, 10, np.array([5, 10, 20]))]
    ivf.save(tmp_path)
    loaded = FaissVectors.load(tmp_path)
    assert loaded.description == ivf.description
    assert loaded.search(points[7], 3) == ivf.search(points[7], 3)
    assert loaded.remove(np.array([7])) == 1


def test_shrinking_below_the_limit_returns_to_exact_search(small_limit):
    points = clustered(2_000)
    ids = np.arange(2_000, dtype=np.int64)
    flat = FaissVectors.create(32)
    flat.add(ids, points)
    ivf = flat.fitted()
    ivf.remove(ids[500:])
    back = ivf.fitted()
    assert back.kind == "flat" and len(back) == 500
    assert back.search(points[3], 1)[0][0] == 3


def test_recall_at():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at(truth, np.array([[4, 3, 2, 1], [5, 6, 0, -1]])) == pytest.approx(0.75)
