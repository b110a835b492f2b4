"""Ingest's memory while it embeds: what the product's own code keeps alive from one batch to the next
must not grow with the chunks embedded (the vectors live in the vector store, the text in the chunk
store), only with the papers (their manifest records). Measured with tracemalloc over the product's
source files, so the encoder's and the libraries' caches are left out."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

import assistant
from assistant import ingest as ingest_module
from assistant.ingest import ingest
from conftest import HashEncoder
from test_synthetic import _load_bench_module

PAPERS = 12
BATCH_CHUNKS = 24
# bytes a chunk may add to what the product's code holds once its batch is written: the papers'
# manifest records (under 1 KB a paper, about 20 chunks a paper) fit many times over; a chunk's
# text, its sentence offsets or its sentence vectors kept for the whole run do not
BOUND_PER_CHUNK = 200


@pytest.fixture(scope="module")
def papers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("papers")
    _load_bench_module("synthetic").write_corpus(folder, PAPERS, seed=11)
    return folder


def _ours(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces([tracemalloc.Filter(True, str(Path(assistant.__file__).parent / "*"))])


@pytest.mark.slow  # tracemalloc slows the whole ingest several times over
def test_what_ingest_holds_does_not_grow_with_the_chunks_embedded(papers, make_settings, monkeypatch):
    samples: list[tuple[int, tracemalloc.Snapshot]] = []
    flush = ingest_module._Build.flush

    def sampled(build) -> None:
        flush(build)
        if not samples or samples[-1][0] != build.embedded:
            samples.append((build.embedded, _ours(tracemalloc.take_snapshot())))

    monkeypatch.setattr(ingest_module._Build, "flush", sampled)
    tracemalloc.start(1)
    try:
        report = ingest([papers], make_settings(ingest_batch_chunks=BATCH_CHUNKS), HashEncoder())
    finally:
        tracemalloc.stop()
    assert len(report.added) == PAPERS and not report.failed
    assert len(samples) >= 8, samples
    (first, before), (last, after) = samples[2], samples[-2]  # after warm-up; before the final flush
    grown = sum(stat.size_diff for stat in after.compare_to(before, "lineno"))
    top = [str(stat) for stat in after.compare_to(before, "lineno")[:5]]
    assert grown / (last - first) < BOUND_PER_CHUNK, (grown, last - first, top)
