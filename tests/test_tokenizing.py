"""The one tokenizer (assistant/tokenizing.py): shared by BM25, the answerer and the LLM check, and
saved with each build so that a build is queried with the tokenizer it was indexed with."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assistant import evidence, llm
from assistant.errors import IndexMismatchError
from assistant.sparse import FOLDER, TOKENIZER_FILE, SparseIndex, recorded_tokenizer
from assistant.tokenizing import Tokenizer, content_words, default_tokenizer, legacy_tokenizer

TEXTS = ["The committee resolved to approve the café's planning application for a new terrace.",
         "Which councillors voted against the precept of £42,000 for 2023/24?",
         "Resurfacing of the car park was deferred to the spring."]


def test_bm25_the_answerer_and_the_llm_check_read_the_same_words():
    tokenizer = default_tokenizer()
    index = SparseIndex.build(np.arange(3), TEXTS)
    assert index.tokenizer == tokenizer
    for text in TEXTS:
        assert evidence.content_words(text) == llm.content_words(text) == content_words(text)
        assert set(content_words(text)) <= set(tokenizer.words(text))
    assert "café" in content_words(TEXTS[0]) and "approv" in content_words(TEXTS[0])
    # BM25 keeps the words of a question's form (its idf weighs them); the answerer compares content only
    assert "which" in tokenizer.words(TEXTS[1]) and not {"which", "the", "for"} & set(content_words(TEXTS[1]))


def test_a_build_is_queried_with_the_tokenizer_it_was_built_with(tmp_path):
    unstemmed = Tokenizer(name="plain", version=1, pattern=r"[a-z]+", stop_words=frozenset({"the"}), stemmer=None)
    SparseIndex.build(np.array([10, 11, 12]), TEXTS, unstemmed).save(tmp_path)
    record = json.loads((tmp_path / FOLDER / TOKENIZER_FILE).read_text())
    assert record["name"] == "plain" and record["stemmer"] is None
    loaded = SparseIndex.load(tmp_path)
    assert loaded.tokenizer == unstemmed
    # indexed unstemmed, "resolved" is found only as "resolved": the default tokenizer's "resolv" would miss
    assert [i for i, _ in loaded.search("resolved", 3)] == [10]
    assert loaded.search("resolving", 3) == []


def test_a_build_made_before_tokenizers_were_recorded_is_read_with_bm25s_defaults(tmp_path):
    SparseIndex.build(np.array([1, 2, 3]), TEXTS, legacy_tokenizer()).save(tmp_path)
    (tmp_path / FOLDER / TOKENIZER_FILE).unlink()
    assert recorded_tokenizer(tmp_path) == legacy_tokenizer()
    assert legacy_tokenizer().words(TEXTS[1]) == default_tokenizer().words(TEXTS[1])
    assert [i for i, _ in SparseIndex.load(tmp_path).search("which councillors", 3)] == [2]


def test_a_damaged_tokenizer_record_names_the_file(tmp_path):
    SparseIndex.build(np.array([1, 2, 3]), TEXTS).save(tmp_path)
    (tmp_path / FOLDER / TOKENIZER_FILE).write_text('{"name": "x"}')
    with pytest.raises(IndexMismatchError, match=rf"{TOKENIZER_FILE}.*rebuild"):
        SparseIndex.load(tmp_path)


@pytest.mark.slow
def test_ingest_records_the_tokenizer_and_reindexes_bm25_built_with_another(corpus_copy, make_settings, embedder):
    from assistant.index import MANIFEST, current_build
    from assistant.ingest import ingest

    settings = make_settings()
    ingest([corpus_copy], settings, embedder)
    first = current_build(settings.index_dir)
    manifest = json.loads((first / MANIFEST).read_text())
    assert manifest["tokenizer"] == default_tokenizer().to_json()
    # a build made before tokenizers were recorded: no record in the manifest nor beside BM25
    del manifest["tokenizer"]
    (first / MANIFEST).write_text(json.dumps(manifest))
    (first / FOLDER / TOKENIZER_FILE).unlink()
    assert recorded_tokenizer(first) == legacy_tokenizer()

    report = ingest([corpus_copy], settings, embedder)
    assert not (report.added or report.updated or report.removed)
    second = current_build(settings.index_dir)
    assert second != first and recorded_tokenizer(second) == default_tokenizer()
    assert json.loads((second / MANIFEST).read_text())["tokenizer"] == default_tokenizer().to_json()
    assert ingest([corpus_copy], settings, embedder).chunks_embedded == 0
    assert current_build(settings.index_dir) == second
