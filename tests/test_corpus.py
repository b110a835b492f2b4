"""The corpus folder: manifest entries checked and normalised, and the metadata a document gets from them."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chunkstore import ChunkStore
from assistant.corpus import SourceFile, read_manifest
from assistant.errors import CorpusError
from assistant.extraction import load_document
from assistant.types import Chunk, SearchFilters
from conftest import CORPUS


def load(path: Path, meta: dict | None = None, **kwargs):
    return load_document(SourceFile(path, path.name, meta or {}), path.read_bytes(), **kwargs)


def test_corpus_manifest_describes_every_seed():
    manifest = read_manifest(CORPUS)
    files = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(files) == 5
    for name in files:
        entry = manifest[name]
        assert entry["council"] == "Sefton Council"
        assert entry["doc_type"] in {"cabinet-member-update", "press-release"}
        assert entry["title"] and entry["date"] and entry["id"]


def test_corpus_text_is_kept_as_given():
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("../shared/seeds is absent")
    assert sorted(p.read_bytes() for p in seeds.glob("*.txt")) == sorted(p.read_bytes() for p in CORPUS.glob("*.txt"))


def test_text_document_gets_manifest_metadata():
    path = CORPUS / "2022-03-15-cabinet-member-update-childrens-social-care.txt"
    document = load(path, read_manifest(CORPUS)[path.name])
    assert document.meta.doc_id == "cmu-2022-03-15-childrens-social-care"
    assert document.meta.date == "2022-03-15"
    assert document.meta.committee.startswith("Overview and Scrutiny")
    assert document.page_starts == ()
    assert "Martin Birch who was appointed permanently will commence in April 2022" in document.text


def test_unlisted_file_is_titled_by_its_first_line(tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# Fostering update\n\nThe fostering service recruited ten carers.", encoding="utf-8")
    document = load(path)
    assert document.meta.title == "# Fostering update"
    assert document.meta.doc_id == "note"
    assert document.meta.date is None


@pytest.mark.parametrize("body,problem", [
    ('[documents."a.txt"]\ndate = "15 March 2022"\n', "field date"),
    ('[documents."a.txt"]\nauthor = "x"\n', "unknown field(s) author"),
    ("[documents\n", "not valid TOML"),
])
def test_bad_manifest_names_the_file_and_field(tmp_path, body, problem):
    (tmp_path / "manifest.toml").write_text(body, encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        read_manifest(tmp_path)
    assert str(tmp_path / "manifest.toml") in str(caught.value)
    assert problem in str(caught.value)


@pytest.mark.parametrize("written", ['"20220315"', '"2022-03-15"', "2022-03-15", "2022-03-15T10:30:00"])
def test_manifest_dates_are_stored_as_iso_and_pass_the_date_filters(tmp_path, written):
    """A compact "20220315" was once checked but kept as written, and then fell outside --until
    (text comparison: "20220315" > "2022-03-31")."""
    (tmp_path / "manifest.toml").write_text(f'[documents."a.txt"]\ndate = {written}\n', encoding="utf-8")
    path = tmp_path / "a.txt"
    path.write_text("The cabinet agreed the budget.", encoding="utf-8")
    entry = read_manifest(tmp_path)["a.txt"]
    assert entry["date"] == "2022-03-15"
    document = load(path, entry)
    assert document.meta.date == "2022-03-15"
    store = ChunkStore.open(tmp_path)
    try:
        store.put_document(document, "a.txt", "content", "meta")
        store.put_chunks([Chunk(document.doc_id, 0, document.text, 0, len(document.text))])
        for filters in (SearchFilters(until="2022-03-31"), SearchFilters(since="2022-03-15", until="2022-03-15")):
            assert len(store.matching_ids(filters)) == 1
        assert len(store.matching_ids(SearchFilters(until="2022-03-14"))) == 0
    finally:
        store.close()
