from __future__ import annotations

import json
import os

import numpy as np
import pytest

from assistant.app import Assistant
from assistant.errors import IndexMismatchError
from assistant.index import Index, current_build
from conftest import on_both_stores

# every test here that takes these fixtures runs on FAISS and on a real Milvus server
corpus_assistant, make_settings = on_both_stores()


@pytest.fixture
def assistant(make_settings, encoder):
    return Assistant(make_settings(), encoder=encoder)


def index_state(settings):
    """(doc_id, ord, text) of every chunk and the vector count, read from the published build."""
    index = Index.open(settings.index_dir, settings)
    try:
        rows = index.store.db.execute("SELECT doc_id, ord, text, id FROM chunks ORDER BY doc_id, ord").fetchall()
        ids = np.array([r[3] for r in rows], dtype=np.int64)
        assert len(index.vectors) == len(rows)
        assert sorted(index.sparse.ids.tolist()) == sorted(ids.tolist())
        return [r[:3] for r in rows], index.manifest
    finally:
        index.close()


def test_incremental_add_modify_delete_and_rerun(assistant, corpus_copy):
    index_dir = assistant.settings.index_dir
    first = assistant.ingest([corpus_copy])
    assert len(first.added) == 5 and not first.failed and first.chunks_embedded > 0
    chunks, manifest = index_state(assistant.settings)
    assert manifest["embedding_model"] == assistant.encoder.model_id
    assert manifest["encoder"] == assistant.encoder.record()
    assert manifest["dimension"] == assistant.encoder.dimension and manifest["chunks"] == len(chunks)
    assert all(len(v["content_hash"]) == 64 for v in manifest["files"].values())

    again = assistant.ingest([corpus_copy])
    assert not again.changed and len(again.unchanged) == 5 and again.chunks_embedded == 0
    assert index_state(assistant.settings)[0] == chunks

    new = corpus_copy / "2022-06-fostering.txt"
    new.write_text("Sefton recruited twelve new foster carers in June 2022.", encoding="utf-8")
    added = assistant.ingest([corpus_copy])
    assert [os.path.basename(k) for k in added.added] == ["2022-06-fostering.txt"]
    assert added.chunks_embedded == 1
    assert assistant.search("foster carers recruited in June", k=1)[0].meta.doc_id == "2022-06-fostering"

    new.write_text("Sefton recruited twenty new foster carers in July 2022.", encoding="utf-8")
    changed = assistant.ingest([corpus_copy])
    assert len(changed.updated) == 1 and changed.chunks_embedded == 1
    top = assistant.search("foster carers recruited", k=1)[0]
    assert "twenty" in top.chunk.text

    new.unlink()
    removed = assistant.ingest([corpus_copy])
    assert len(removed.removed) == 1
    assert index_state(assistant.settings)[0] == chunks
    assert all(p.meta.doc_id != "2022-06-fostering" for p in assistant.search("foster carers", k=20))


def test_metadata_change_is_picked_up(assistant, corpus_copy):
    assistant.ingest([corpus_copy])
    manifest = corpus_copy / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'date = "2022-03-15"', 'date = "2022-03-16"'), encoding="utf-8")
    report = assistant.ingest([corpus_copy])
    assert len(report.updated) == 1
    assert assistant.document("cmu-2022-03-15-childrens-social-care").meta.date == "2022-03-16"


def test_bad_files_are_reported_and_the_rest_ingested(assistant, corpus_copy, tmp_path):
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "binary.txt").write_bytes(bytes(range(256)))
    (corpus_copy / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    report = assistant.ingest([corpus_copy, tmp_path / "missing.pdf"])
    failed = dict((os.path.basename(f), e) for f, e in report.failed)
    assert set(failed) == {"empty.txt", "binary.txt", "missing.pdf"}
    assert "no such file" in failed["missing.pdf"]
    assert any("sheet.xlsx" in f and "unsupported" in w for f, w in report.warnings)
    assert len(report.added) == 5


def test_a_failed_run_keeps_the_indexed_version(assistant, corpus_copy):
    assistant.ingest([corpus_copy])
    before = index_state(assistant.settings)[0]
    target = corpus_copy / "2022-03-15-cabinet-member-update-childrens-social-care.txt"
    target.write_bytes(b"\x00\x01binary now")
    report = assistant.ingest([corpus_copy])
    assert len(report.failed) == 1 and not report.changed
    assert index_state(assistant.settings)[0] == before


def test_empty_folder_is_an_error_and_leaves_the_index(assistant, corpus_copy, tmp_path):
    assistant.ingest([corpus_copy])
    build = current_build(assistant.settings.index_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    report = assistant.ingest([empty])
    assert report.failed and "holds no files" in report.failed[0][1]
    assert current_build(assistant.settings.index_dir) == build


def test_crash_before_publish_leaves_the_last_good_index(assistant, corpus_copy, monkeypatch):
    assistant.ingest([corpus_copy])
    before = index_state(assistant.settings)
    (corpus_copy / "extra.txt").write_text("A new paper on kinship care.", encoding="utf-8")

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("assistant.index.publish", explode)
    with pytest.raises(OSError):
        assistant.ingest([corpus_copy])
    assert index_state(assistant.settings) == before
    monkeypatch.undo()
    assert assistant.ingest([corpus_copy]).added
    assert len(list((assistant.settings.index_dir / "builds").iterdir())) == 1


def test_same_file_name_in_two_folders_gets_distinct_ids(assistant, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "update.txt").write_text(f"Update from folder {folder}.", encoding="utf-8")
    assistant.ingest([tmp_path / "a", tmp_path / "b"])
    ids = {meta.doc_id for meta, _ in assistant.documents()}
    assert len(ids) == 2 and "update" in ids


def test_index_built_with_another_model_is_a_clear_error(assistant, corpus_copy):
    assistant.ingest([corpus_copy])
    build = current_build(assistant.settings.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["embedding_model"] = "intfloat/e5-small-v2"
    (build / "manifest.json").write_text(json.dumps(manifest))
    fresh = Assistant(assistant.settings, encoder=assistant.encoder)
    with pytest.raises(IndexMismatchError, match="e5-small-v2"):
        fresh.search("board")
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        fresh.ingest([corpus_copy])
    assert fresh.ingest([corpus_copy], rebuild=True).added
    assert fresh.search("Improvement Board", k=1)


def test_changed_chunk_settings_ask_for_a_rebuild(assistant, corpus_copy, make_settings):
    assistant.ingest([corpus_copy])
    other = Assistant(make_settings(chunk_words=60), encoder=assistant.encoder)
    with pytest.raises(IndexMismatchError, match="chunk"):
        other.ingest([corpus_copy])


def test_a_file_that_cannot_be_chunked_fails_alone(corpus_copy, make_settings, encoder, monkeypatch):
    """A chunker error on one paper is reported for that paper; the others are indexed."""
    from assistant import loading
    from assistant.ingest import ingest

    real = loading.chunk_document

    def fragile(document, *args):
        if "ofsted" in document.doc_id:
            raise ValueError("chunker bug")
        return real(document, *args)

    monkeypatch.setattr(loading, "chunk_document", fragile)
    report = ingest([corpus_copy], make_settings(), encoder)
    assert len(report.failed) == 1 and "could not be chunked (ValueError: chunker bug)" in report.failed[0][1]
    assert "ofsted" in report.failed[0][0] and len(report.added) == 4


def chunk_rows(settings, doc_id):
    """(chunk id, text, sentence vectors) of a document's chunks in the published build."""
    index = Index.open(settings.index_dir, settings)
    try:
        return index.store.db.execute("SELECT id, text, sentence_vectors FROM chunks WHERE doc_id=? ORDER BY id",
                                      (doc_id,)).fetchall()
    finally:
        index.close()


def test_a_metadata_only_change_updates_the_paper_without_embedding_it(assistant, corpus_copy, monkeypatch):
    """A new id, title, date and type in the manifest reach search, its filters (pushed into Milvus)
    and the document table, while the file's chunks keep their ids, texts and vectors."""
    assistant.ingest([corpus_copy])
    old_id, new_id = "cmu-2022-03-15-childrens-social-care", "cmu-childrens-social-care-march"
    before = chunk_rows(assistant.settings, old_id)
    manifest = corpus_copy / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        f'id = "{old_id}"\ntitle = "Cabinet Member Update: Children\'s Social Care, Cllr Mhairi Doyle, March 2022"\n'
        'date = "2022-03-15"\ndoc_type = "cabinet-member-update"',
        f'id = "{new_id}"\ntitle = "Children\'s Services: Progress Report"\ndate = "20230601"\ndoc_type = "report"'),
        encoding="utf-8")
    encoded, embed = [], assistant.encoder.embed_passages
    monkeypatch.setattr(assistant.encoder, "embed_passages",
                        lambda texts, progress=False: encoded.extend(texts) or embed(texts, progress))

    report = assistant.ingest([corpus_copy])
    assert len(report.updated) == 1 and report.chunks_embedded == 0 and encoded == []
    assert chunk_rows(assistant.settings, new_id) == before and chunk_rows(assistant.settings, old_id) == []
    chunks, manifest_after = index_state(assistant.settings)
    assert manifest_after["files"][report.updated[0]]["doc_id"] == new_id
    assert assistant.document(old_id) is None
    assert assistant.document(new_id).meta.title == "Children's Services: Progress Report"
    query = "Lisa Lyons left post on 4th March; Martin Birch appointed permanently"
    hit = {p.meta.doc_id: p for p in assistant.search(query, k=5)}[new_id]
    assert (hit.meta.title, hit.meta.date, hit.meta.doc_type) == ("Children's Services: Progress Report",
                                                                  "2023-06-01", "report")
    assert new_id in {p.meta.doc_id for p in assistant.search(query, since="2023-06-01", doc_types="report")}
    assert new_id not in {p.meta.doc_id for p in assistant.search(query, until="2022-12-31")}
    assert new_id not in {p.meta.doc_id for p in assistant.search(query, doc_types="cabinet-member-update")}


def test_two_papers_that_swap_ids_in_the_manifest_keep_their_own_text(assistant, corpus_copy):
    assistant.ingest([corpus_copy])
    first, second = "cmu-2022-03-15-childrens-social-care", "press-2022-05-ofsted-inadequate-rating"
    texts = {doc_id: assistant.document(doc_id).text for doc_id in (first, second)}
    manifest = corpus_copy / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(first, "@@swap@@").replace(second, first)
                        .replace("@@swap@@", second), encoding="utf-8")
    report = assistant.ingest([corpus_copy])
    assert len(report.updated) == 2 and not report.failed
    assert {doc_id: assistant.document(doc_id).text for doc_id in (first, second)} == {
        first: texts[second], second: texts[first]}
    chunks, _ = index_state(assistant.settings)
    for doc_id, other in ((first, second), (second, first)):
        own = [text for chunk_doc, _, text in chunks if chunk_doc == doc_id]
        assert own and all(text in texts[other] for text in own)
