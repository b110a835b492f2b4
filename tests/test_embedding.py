from __future__ import annotations

import numpy as np
import pytest



@pytest.mark.slow
def test_query_vectors_are_cached_read_only_and_equal_to_fresh_ones(embedder):
    embedder.clear_query_cache()
    first = embedder.embed_query("Who attends the Improvement Board?")
    assert embedder.embed_query("Who attends the Improvement Board?") is first
    np.testing.assert_allclose(first, embedder.embed_passages(["Who attends the Improvement Board?"])[0], atol=1e-6)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        first[0] = 1.0
    embedder.clear_query_cache()
    assert embedder.embed_query("Who attends the Improvement Board?") is not first


@pytest.mark.slow
def test_query_cache_forgets_the_least_recently_used_beyond_its_size(embedder, monkeypatch):
    from assistant import embedding

    monkeypatch.setattr(embedding, "QUERY_CACHE", 2)
    embedder.clear_query_cache()
    first, second = embedder.embed_query("first question"), embedder.embed_query("second question")
    assert embedder.embed_query("first question") is first
    embedder.embed_query("third question")
    assert embedder.embed_query("first question") is first
    assert embedder.embed_query("second question") is not second
