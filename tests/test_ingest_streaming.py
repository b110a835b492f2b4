"""Streamed ingest: papers are read, chunked and embedded a batch at a time (embedding begins after
the first batch of papers, not after the whole archive is read), the index equals one built in a
single batch, and the OCR phase reports each page as it is read."""
from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest

from assistant.chunkstore import ChunkStore
from assistant.corpus import discover
from assistant.extraction import Loader
from assistant.index import current_build, read_manifest
from assistant.ingest import ingest, load_sources
from assistant.loading import Reader, Stream
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
    held = peak = 0  # papers extracted and not yet embedded: the batch's and those read ahead of it
    for kind, count in events:
        held += 1 if kind == "load" else -count
        peak = max(peak, held)
    assert held == 0 and peak <= 4, kinds



class WaitingEncoder(HashEncoder):
    """The fake encoder, which at each batch waits (up to 10 s, the time a real encoder's batch
    leaves) for a paper beyond the batch to be loaded, and notes whether one was."""

    def __init__(self, loads: list[str], changed: threading.Condition) -> None:
        super().__init__()
        self.loads, self.changed, self.embedded, self.overlapped = loads, changed, 0, []

    def embed_chunks(self, chunks):
        self.embedded += len({c.doc_id for c in chunks})
        with self.changed:
            self.changed.wait_for(lambda: len(self.loads) > self.embedded or len(self.loads) == PAPERS, 10)
            self.overlapped.append(len(self.loads) > self.embedded)
        return super().embed_chunks(chunks)


def test_the_next_papers_are_read_while_a_batch_is_embedded(generated, make_settings, monkeypatch):
    loads: list[str] = []
    changed = threading.Condition()
    real_load = Loader.load

    def load(self, source, data, *args, **kwargs):
        document = real_load(self, source, data, *args, **kwargs)
        with changed:
            loads.append(source.key)
            changed.notify_all()
        return document

    monkeypatch.setattr(Loader, "load", load)
    encoder = WaitingEncoder(loads, changed)
    report = ingest([generated], make_settings(ingest_batch_chunks=8), encoder)
    assert len(report.added) == PAPERS and not report.failed
    batches = encoder.overlapped
    assert len(batches) >= PAPERS // 2 and all(batches[:-1]) and not batches[-1], batches


def test_the_reading_thread_gives_the_papers_in_order_and_peeks_see_them(generated, make_settings):
    sources = discover([generated]).sources
    settings = make_settings()
    taken = {}
    for ahead in (0, 5):
        with Reader(len(sources), {}, settings) as reader, Stream(sources, reader, settings, "", ahead) as stream:
            reads = []
            for n, read in enumerate(stream):
                reads.append(read)
                later = sources[stream.order[min(n + 2, len(sources) - 1)]].key
                peeked = stream.peek(later)
                assert (peeked is None) == (later in stream.done) and stream.peek(read.source.key) is None
                assert peeked is None or peeked.source.key == later
        taken[ahead] = [(r.source.key, r.document.text, [c.text for c in r.chunks]) for r in reads]
    assert [key for key, _, _ in taken[5]] == [sources[i].key for i in stream.order]
    assert taken[5] == taken[0] and len(taken[0]) == PAPERS


def test_an_error_in_the_reading_thread_is_raised_naming_the_file(generated, make_settings, monkeypatch):
    from assistant import loading

    real_chunked = loading._chunked

    def chunked(read, settings, context):
        if read.source.path.name == sorted(p.name for p in generated.iterdir() if p.suffix == ".txt")[3]:
            raise MemoryError("out of memory in the chunker")
        return real_chunked(read, settings, context)

    monkeypatch.setattr(loading, "_chunked", chunked)
    with pytest.raises(MemoryError, match="out of memory") as raised:
        ingest([generated], make_settings(ingest_batch_chunks=8), HashEncoder())
    name = sorted(p.name for p in generated.iterdir() if p.suffix == ".txt")[3]
    assert any(name in note for note in getattr(raised.value, "__notes__", [])), raised.value
    assert current_build(make_settings().index_dir) is None

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
