"""Streamed ingest: papers are read, chunked and embedded a batch at a time (embedding begins after
the first batch of papers, not after the whole archive is read), the index equals one built in a
single batch, and the OCR phase reports each page as it is read."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from assistant.chunkstore import ChunkStore
from assistant.corpus import discover
from assistant.extraction import Loader
from assistant.index import current_build, read_manifest
from assistant.ingest import ingest, load_sources
from assistant.ocr import unavailable
from assistant.progress import Progress
from assistant.vectors import FaissVectors
from conftest import HashEncoder
from test_synthetic import _load_bench_module

PAPERS = 16


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("papers")
    _load_bench_module("synthetic").write_corpus(folder, PAPERS, seed=5)
    return folder


class RecordingEncoder(HashEncoder):
    """The fake encoder, noting each batch it embeds in `events`."""

    def __init__(self, events: list[tuple[str, object]]) -> None:
        super().__init__()
        self.events = events

    def embed_chunks(self, chunks):
        self.events.append(("embed", len({c.doc_id for c in chunks})))
        return super().embed_chunks(chunks)


def test_embedding_begins_after_the_first_batch_of_papers_not_after_all(generated, make_settings, monkeypatch):
    events: list[tuple[str, object]] = []
    real_load = Loader.load

    def load(self, source, data, *args, **kwargs):
        events.append(("load", source.key))
        return real_load(self, source, data, *args, **kwargs)

    monkeypatch.setattr(Loader, "load", load)
    report = ingest([generated], make_settings(ingest_batch_chunks=8), RecordingEncoder(events))
    assert len(report.added) == PAPERS and not report.failed
    kinds = [kind for kind, _ in events]
    assert kinds.index("embed") < len(kinds) - 1 - kinds[::-1].index("load"), kinds
    held = peak = 0  # papers extracted and not yet embedded
    for kind, count in events:
        held += 1 if kind == "load" else -count
        peak = max(peak, held)
    assert held == 0 and peak <= 2, kinds


def _contents(index_dir):
    build = current_build(index_dir)
    store = ChunkStore.open(build, readonly=True)
    try:
        rows = list(store.db.execute("SELECT id, doc_id, ord, text, sentence_vectors FROM chunks ORDER BY id"))
        documents = list(store.db.execute("SELECT key, doc_id, text, content_hash, meta_hash FROM documents "
                                          "ORDER BY key"))
    finally:
        store.close()
    ids, vectors = FaissVectors.load(build).contents()
    order = np.argsort(ids)
    return read_manifest(build)["files"], rows, documents, ids[order], vectors[order]


def test_small_batches_build_the_index_one_batch_builds(generated, tmp_path):
    from assistant.settings import Settings

    built = {}
    for batch in (3, 1_000_000):
        settings = Settings.load(env={}, index_dir=tmp_path / f"index-{batch}", progress=False,
                                 ingest_batch_chunks=batch)
        report = ingest([generated], settings, HashEncoder())
        assert len(report.added) == PAPERS
        built[batch] = report, _contents(settings.index_dir)
    (small, small_index), (one, one_index) = built[3], built[1_000_000]
    assert small.added == one.added and small.chunks_embedded == one.chunks_embedded
    files_a, rows_a, docs_a, ids_a, vectors_a = small_index
    files_b, rows_b, docs_b, ids_b, vectors_b = one_index
    assert files_a == files_b and list(files_a) == list(files_b)
    assert rows_a == rows_b and docs_a == docs_b
    assert np.array_equal(ids_a, ids_b) and np.allclose(vectors_a, vectors_b)


@pytest.mark.slow
@pytest.mark.skipif(unavailable() is not None, reason=f"Tesseract is needed: {unavailable()}")
def test_the_ocr_phase_reports_each_page_with_its_rate_and_time_left(tmp_path, make_settings):
    from test_ocr import MOTION, OTHER, scanned_pdf

    (tmp_path / "papers").mkdir()
    path = scanned_pdf(tmp_path / "papers" / "scan.pdf", [MOTION, OTHER, MOTION], {1, 2, 3})
    (tmp_path / "papers" / f".{path.stem}-text.pdf").unlink()
    stream = io.StringIO()
    found = discover([tmp_path / "papers"])
    loaded = load_sources(found.sources, {}, make_settings(ocr="auto"), progress=Progress("json", stream, 0.0))
    assert len(loaded.documents) == 1 and loaded.documents[0][1].meta.ocr_pages == (1, 2, 3)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ocr = [line for line in lines if line["phase"] == "ocr"]
    pages = [line for line in ocr if line["event"] == "progress"]
    assert [line["done"] for line in pages][:3] == [1, 2, 3] and {line["total"] for line in pages} == {3}
    assert all(line["pages_per_s"] > 0 and line["eta_s"] is not None for line in pages)
    assert pages[-1]["eta_s"] == 0.0 and pages[0]["eta_s"] > 0
    assert ocr[-1]["event"] == "end" and ocr[-1]["done"] == 3 and ocr[-1]["files"] == 1
