"""The chunk store: documents and chunks round-trip through SQLite exactly, metadata can change without
the chunks, and filters select by document."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.chunkstore import ChunkStore
from assistant.types import Chunk, Document, DocumentMeta, SearchFilters

TEXT = "Item 4 Budget\n\nThe committee approved the budget of £2.4m. The vote was 7 for and 2 against."


def _document(doc_id: str = "budget-2022", date: str = "2022-03-15", access: str = "public") -> Document:
    meta = DocumentMeta(doc_id=doc_id, title="Budget report", date=date, doc_type="report",
                        council="Example Council", committee="Cabinet", source=f"corpus/{doc_id}.pdf",
                        access=access, ocr_pages=(2,), items=((0, "Item 4 Budget"),))
    return Document(meta=meta, text=TEXT, path=f"{doc_id}.pdf", page_starts=(0, 40), warnings=("a warning",))


def _chunks(doc_id: str = "budget-2022") -> list[Chunk]:
    first_end = TEXT.index("The vote")
    return [Chunk(doc_id=doc_id, ord=0, text=TEXT[15:first_end], start=15, end=first_end, page=1,
                  sentences=((0, 44),), heading="Item 4 Budget"),
            Chunk(doc_id=doc_id, ord=1, text=TEXT[first_end:], start=first_end, end=len(TEXT), page=2,
                  sentences=((0, len(TEXT) - first_end),))]


@pytest.fixture
def store(tmp_path):
    store = ChunkStore.open(tmp_path)
    yield store
    store.close()


def test_documents_and_chunks_round_trip(store, tmp_path):
    document = _document()
    store.put_document(document, "budget-2022.pdf", "content-hash", "meta-hash")
    vectors = [np.arange(6, dtype=np.float32).reshape(1, 6), None]
    ids = store.put_chunks(_chunks(), vectors)
    store.commit()
    reader = ChunkStore.open(tmp_path, readonly=True)
    try:
        assert reader.document("budget-2022") == document
        rows = reader.chunks([int(i) for i in ids])
        assert [rows[int(i)][0] for i in ids] == _chunks()
        assert rows[int(ids[0])][1] == document.meta
        assert rows[int(ids[0])][2].tolist() == [[0, 1, 2, 3, 4, 5]] and rows[int(ids[1])][2] is None
        assert reader.fingerprints() == {"budget-2022.pdf": ("budget-2022", "content-hash", "meta-hash")}
        assert reader.chunk_count() == 2 and reader.chunk_ids().tolist() == ids.tolist()
        assert reader.index_texts(ids)[0] == "Budget report\nItem 4 Budget\n" + _chunks()[0].text
    finally:
        reader.close()


def test_update_meta_changes_the_metadata_and_keeps_the_chunks(store):
    store.put_document(_document(), "budget-2022.pdf", "content-hash", "meta-hash")
    ids = store.put_chunks(_chunks())
    changed = DocumentMeta(doc_id="budget-2022", title="Revised budget report", date="2022-03-16",
                           doc_type="minutes", council="Example Council", committee="Council",
                           source="corpus/budget-2022.pdf", access="restricted")
    store.update_meta("budget-2022.pdf", changed, "new-meta-hash")
    store.commit()
    assert store.fingerprints()["budget-2022.pdf"] == ("budget-2022", "content-hash", "new-meta-hash")
    document = store.document("budget-2022")
    assert document.meta.title == "Revised budget report" and document.meta.doc_type == "minutes"
    assert document.meta.access == "restricted" and document.text == TEXT
    assert store.chunk_ids().tolist() == ids.tolist()
    assert store.document("budget-2022", public_only=True) is None
    assert store.matching_ids(SearchFilters(since="2022-03-16", doc_types=("minutes",))).tolist() == ids.tolist()


def test_filters_and_deletion_work_by_document(store):
    store.put_document(_document("old", date="2019-01-01"), "old.pdf", "a", "a")
    old = store.put_chunks(_chunks("old"))
    store.put_document(_document("new", date="2023-01-01", access="restricted"), "new.pdf", "b", "b")
    new = store.put_chunks(_chunks("new"))
    assert store.matching_ids(SearchFilters(until="2020-12-31")).tolist() == old.tolist()
    assert store.matching_ids(SearchFilters(public_only=True)).tolist() == old.tolist()
    assert store.matching_ids(SearchFilters(councils=("example council",))).size == 4
    assert store.delete_document("new.pdf").tolist() == new.tolist()
    assert store.doc_ids() == {"old"} and store.chunk_count() == 2
    assert [meta.doc_id for meta, count in store.documents()] == ["old"]
