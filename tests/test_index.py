"""The index layout: a build is published atomically, a reader keeps the build it opened, a crash leaves
the last good build current, and a damaged manifest is a clear error naming the file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant import index as layout
from assistant.chunkstore import ChunkStore
from assistant.errors import IndexDamagedError, IndexMismatchError, IndexNotFoundError
from assistant.index import Index
from assistant.sparse import SparseIndex
from assistant.types import Chunk, Document, DocumentMeta
from assistant.vectors import FaissVectors

DIMENSION = 8


def _write_build(index_dir: Path, texts: list[str], publish: bool = True) -> Path:
    """A complete build of one document per text (one chunk each, a seeded vector per chunk)."""
    tmp = layout.new_build_dir(index_dir)
    store, vectors = ChunkStore.open(tmp), FaissVectors.create(DIMENSION)
    for n, text in enumerate(texts):
        meta = DocumentMeta(doc_id=f"paper-{n}", title=f"Paper {n}", date="2022-03-15")
        store.put_document(Document(meta=meta, text=text, path=f"paper-{n}.txt"), f"paper-{n}.txt", str(n), str(n))
        ids = store.put_chunks([Chunk(doc_id=meta.doc_id, ord=0, text=text, start=0, end=len(text))])
        vector = np.random.default_rng(n).standard_normal((1, DIMENSION)).astype(np.float32)
        vectors.add(ids, vector / np.linalg.norm(vector))
    store.commit()
    vectors.save(tmp)
    SparseIndex.build(store.chunk_ids(), [t for rows in store.iter_index_texts() for _, t in rows]).save(tmp)
    store.close()
    manifest = {"format": layout.FORMAT_VERSION, "embedding_model": "fake-model", "dimension": DIMENSION,
                "vectors": vectors.record, "chunks": len(texts)}
    return layout.publish(index_dir, tmp, manifest) if publish else tmp


def _texts(index: Index) -> list[str]:
    rows = index.store.chunks([int(i) for i in index.store.chunk_ids()])
    return [chunk.text for chunk, _, _ in rows.values()]


def test_no_build_yet_is_a_clear_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="no index yet"):
        Index.open(tmp_path / "index")


def test_a_reader_sees_the_old_build_until_publish_and_keeps_it_after(tmp_path):
    index_dir = tmp_path / "index"
    first = _write_build(index_dir, ["The budget was approved."])
    reader = Index.open(index_dir)
    unpublished = _write_build(index_dir, ["The budget was refused.", "A second paper."], publish=False)
    assert layout.current_build(index_dir) == first.resolve()
    fresh = Index.open(index_dir)
    assert fresh.folder == first.resolve() and _texts(fresh) == ["The budget was approved."]
    fresh.close()

    second = layout.publish(index_dir, unpublished, json.loads(json.dumps(layout.read_manifest(first))) | {"chunks": 2})
    assert layout.current_build(index_dir) == second.resolve() and not first.exists()
    assert _texts(reader) == ["The budget was approved."]
    assert reader.vectors.search(np.ones(DIMENSION, dtype=np.float32), 5)[0][0] == 1
    reader.close()
    after = Index.open(index_dir)
    assert sorted(_texts(after)) == ["A second paper.", "The budget was refused."] and len(after.vectors) == 2
    after.close()


def test_a_crash_before_the_swap_leaves_the_old_build_current(tmp_path, monkeypatch):
    index_dir = tmp_path / "index"
    first = _write_build(index_dir, ["The budget was approved."])
    real_replace = os.replace

    def crash(source, target):
        if Path(target).name == layout.CURRENT:
            raise KeyboardInterrupt("killed before the swap")
        real_replace(source, target)

    monkeypatch.setattr(layout.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        _write_build(index_dir, ["The budget was refused."])
    monkeypatch.undo()
    assert layout.current_build(index_dir) == first.resolve()
    index = Index.open(index_dir)
    assert _texts(index) == ["The budget was approved."]
    index.close()
    removed = layout.remove_abandoned(index_dir)
    assert any(name.startswith(".current-") for name in removed)
    assert not list(index_dir.glob(".current-*"))
    assert layout.current_build(index_dir) == first.resolve()


def test_abandoned_temporary_builds_are_removed(tmp_path):
    index_dir = tmp_path / "index"
    _write_build(index_dir, ["The budget was approved."])
    left = layout.new_build_dir(index_dir)
    assert layout.remove_abandoned(index_dir) == [left.name] and not left.exists()


@pytest.mark.parametrize("damage", [b'{"format": 2, "chunks": ', b"\xff\xfe not text", b"[1, 2]"])
def test_a_damaged_manifest_is_an_error_naming_the_file(tmp_path, damage):
    index_dir = tmp_path / "index"
    build = _write_build(index_dir, ["The budget was approved."])
    (build / layout.MANIFEST).write_bytes(damage)
    with pytest.raises(IndexDamagedError, match=f"{build / layout.MANIFEST}: .*rebuild"):
        Index.open(index_dir)


def test_a_manifest_of_another_format_or_model_is_refused(tmp_path):
    index_dir = tmp_path / "index"
    build = _write_build(index_dir, ["The budget was approved."])
    index = Index.open(index_dir)
    with pytest.raises(IndexMismatchError, match="built with embedding model 'fake-model'"):
        index.check_model("all-MiniLM-L6-v2")
    index.close()
    manifest = json.loads((build / layout.MANIFEST).read_text()) | {"format": 1}
    (build / layout.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="index format 1 is not"):
        Index.open(index_dir)


def test_the_failure_record_is_replaced_whole_and_a_damaged_one_reads_empty(tmp_path):
    record = {"paper.pdf": {"content_hash": "a", "meta_hash": "b", "context": "c", "error": "encrypted"}}
    layout.write_failures(tmp_path, record)
    assert layout.read_failures(tmp_path) == record and not list(tmp_path.glob(".failures.json-*"))
    (tmp_path / layout.FAILURES).write_text("{not json")
    assert layout.read_failures(tmp_path) == {}
