"""A first ingest killed (SIGKILL) part way resumes where it stopped: the chunks it embedded are not
encoded again, and the published index equals one built without the kill."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from assistant.chunkstore import ChunkStore
from assistant.corpus import discover
from assistant.index import BUILDS, RESUME, current_build, read_manifest
from assistant.sparse import SparseIndex
from assistant.vectors import FaissVectors
from conftest import ROOT
from test_crash_safety import Run
from test_synthetic import _load_bench_module

pytestmark = pytest.mark.slow

BATCH_CHUNKS = 12


@pytest.fixture
def generated(tmp_path):
    folder = tmp_path / "papers"
    _load_bench_module("synthetic").write_corpus(folder, 24, seed=3)
    return folder


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setenv("COUNCIL_ASSISTANT_INGEST_BATCH_CHUNKS", str(BATCH_CHUNKS))


def _ingest_json(index_dir, corpus) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-m", "assistant", "-v", "--index", str(index_dir), "ingest", "--json",
                           str(corpus)], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def _contents(index_dir):
    build = current_build(index_dir)
    store = ChunkStore.open(build, readonly=True)
    try:
        rows = list(store.db.execute("SELECT c.id, c.doc_id, c.text, c.sentence_vectors FROM chunks c ORDER BY c.id"))
        documents = list(store.db.execute("SELECT key, doc_id, content_hash, meta_hash FROM documents ORDER BY key"))
    finally:
        store.close()
    ids, vectors = FaissVectors.load(build).contents()
    order = np.argsort(ids)
    return read_manifest(build), rows, documents, ids[order], vectors[order], SparseIndex.load(build)


def _embedded(lines: list[str]) -> int:
    """The chunks the last "batch written" line counts."""
    counts = [int(m.group(1)) for line in lines if (m := re.search(r"batch written: (\d+) of", line))]
    return counts[-1] if counts else 0


def test_killed_first_ingest_resumes_without_encoding_again(generated, tmp_path, small_batches):
    whole, _ = _ingest_json(tmp_path / "whole", generated)
    total = whole["chunks_embedded"]
    assert total > 4 * BATCH_CHUNKS

    index_dir = tmp_path / "index"
    run = Run(index_dir, generated)
    with run._changed:  # killed once at least two batches are written
        run._changed.wait_for(lambda: run.closed or _embedded(run.lines) >= 2 * BATCH_CHUNKS, 600)
    assert _embedded(run.lines) >= 2 * BATCH_CHUNKS, "\n".join(run.lines)
    assert run.kill() == -signal.SIGKILL
    assert current_build(index_dir) is None
    assert list((index_dir / BUILDS).glob(f"{RESUME}*"))

    resumed, log = _ingest_json(index_dir, generated)
    kept = int(re.search(r"(\d+) chunk\(s\) already embedded", log).group(1))
    assert 0 < kept < total
    assert resumed["chunks_embedded"] == total - kept
    assert sorted(resumed["added"]) == sorted(whole["added"]) and resumed["unchanged"] == 0
    assert not list((index_dir / BUILDS).glob(f"{RESUME}*"))
    assert not list(current_build(index_dir).glob("embedded"))
    progress = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    ends = {line["phase"]: line for line in progress if line["event"] == "end"}
    assert set(ends) == {"extract", "embed", "write"}
    assert ends["embed"]["done"] == ends["embed"]["total"] == total - kept == ends["embed"]["chunks"]
    assert ends["extract"]["total"] == ends["extract"]["files"] == len(discover([generated]).sources)
    assert all(line["chunks_per_s"] >= 0 and line["elapsed_s"] >= 0 for line in progress)

    manifest_a, rows_a, docs_a, ids_a, vectors_a, sparse_a = _contents(tmp_path / "whole")
    manifest_b, rows_b, docs_b, ids_b, vectors_b, sparse_b = _contents(index_dir)
    assert manifest_b["files"] == manifest_a["files"] and manifest_b["chunks"] == manifest_a["chunks"]
    assert docs_b == docs_a
    assert [r[:3] for r in rows_b] == [r[:3] for r in rows_a]
    assert np.array_equal(ids_b, ids_a)
    assert np.allclose(vectors_b, vectors_a, atol=1e-6)
    for query in ["budget savings", "foster carers", "school places", "council tax"]:
        assert sparse_b.search(query, 10) == sparse_a.search(query, 10)

    again, _ = _ingest_json(index_dir, generated)
    assert again["chunks_embedded"] == 0 and again["unchanged"] == len(whole["added"])


def test_the_benchmarks_archive_run_is_killed_half_way_and_resumes(generated, tmp_path, small_batches):
    """bench/scale.py's archive section kills its first ingest once half the papers are embedded, read
    from the product's own "batch written" log lines (a change of their wording once left the run
    unkilled, and the resume unmeasured), and the second run keeps what the first embedded."""
    scale = _load_bench_module("scale")
    index_dir = tmp_path / "index"
    first = scale.ingest_child(index_dir, generated, stop_at_fraction=0.5, papers=24, sample_every=60)
    assert first["killed_at_chunks"] and first["report"] is None
    assert current_build(index_dir) is None
    second = scale.ingest_child(index_dir, generated, sample_every=60)
    assert second["resumed_chunks"] >= first["killed_at_chunks"]
    store = ChunkStore.open(current_build(index_dir), readonly=True)
    try:
        assert second["resumed_chunks"] + second["report"]["chunks_embedded"] == store.chunk_count()
    finally:
        store.close()
