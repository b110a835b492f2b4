"""BM25 built streamed from batches of the chunk store ranks and scores exactly as the one-shot build."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.chunking import chunk_document, with_items
from assistant.sparse import SparseIndex
from test_chunking import corpus_documents
from test_synthetic import _load_bench_module

QUERIES = ["Ofsted rating of children's services", "foster carers recruited", "council tax increase",
           "budget overspend savings", "Improvement Board chair", "housing repairs backlog",
           "adult social care waiting list", "commissioner appointed by government"]


def _corpus_rows() -> list[tuple[int, str]]:
    texts = []
    for document in corpus_documents():
        for chunk in chunk_document(with_items(document), 120, 1):
            heading = f"{chunk.heading}\n" if chunk.heading else ""
            texts.append(f"{document.meta.title}\n{heading}{chunk.text}")
    return [(3 * n + 1, text) for n, text in enumerate(texts)]


def _synthetic_rows(n: int) -> list[tuple[int, str]]:
    synthetic = _load_bench_module("synthetic")
    return [(n + 7, text) for n, text in enumerate(synthetic.chunk_texts(n))]


def _assert_same(rows: list[tuple[int, str]], batch: int) -> None:
    one_shot = SparseIndex.build(np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows])

    def batches():
        for first in range(0, len(rows), batch):
            yield rows[first:first + batch]

    streamed = SparseIndex.build_streamed(batches)
    assert np.array_equal(streamed.ids, one_shot.ids)
    assert streamed.retriever.scores["data"].size == one_shot.retriever.scores["data"].size
    for query in QUERIES + [rows[5][1][:80], rows[-1][1][-60:]]:
        expected, got = one_shot.search(query, 10), streamed.search(query, 10)
        assert expected, query
        assert [i for i, _ in got] == [i for i, _ in expected], query
        assert np.allclose([s for _, s in got], [s for _, s in expected], rtol=0, atol=1e-6), query
    allowed = np.asarray([r[0] for r in rows[::3]], dtype=np.int64)
    assert [i for i, _ in streamed.search(QUERIES[1], 5, allowed)] == \
        [i for i, _ in one_shot.search(QUERIES[1], 5, allowed)]


def test_streamed_build_equals_one_shot_on_the_real_corpus():
    rows = _corpus_rows()
    assert len(rows) > 20
    _assert_same(rows, batch=7)


def test_streamed_build_equals_one_shot_on_a_generated_corpus():
    _assert_same(_synthetic_rows(3000), batch=500)


def test_streamed_build_of_nothing_is_empty(tmp_path):
    empty = SparseIndex.build_streamed(lambda: iter(()))
    assert empty.search("council", 5) == []
    empty.save(tmp_path)
    assert SparseIndex.load(tmp_path).search("council", 5) == []
