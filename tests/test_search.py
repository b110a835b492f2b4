from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.errors import IndexNotFoundError, QueryError
from assistant.index import Index
from assistant.retrieval import rrf_fuse
from assistant.types import SearchFilters
from conftest import CORPUS, ROOT, on_both_stores

# every test here that takes these fixtures runs on FAISS and on a real Milvus server
corpus_assistant, make_settings = on_both_stores()
SEPT_UPDATE = "cmu-2021-09-28-childrens-social-care"


def test_rrf_rewards_agreement():
    fused = rrf_fuse([[1, 2, 3], [3, 1, 4]], rrf_k=60)
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx((1 / 61 + 1 / 62) / (2 / 61))


def test_rrf_top_in_both_scores_one_and_is_deterministic():
    assert rrf_fuse([[7, 8], [7, 9]])[0] == (7, 1.0)
    assert rrf_fuse([[1], [2]]) == rrf_fuse([[1], [2]])
    assert [i for i, _ in rrf_fuse([[2], [1]])] == [1, 2]
    assert rrf_fuse([]) == []


def test_rrf_weights_favour_one_ranking_and_keep_the_top_at_one():
    assert [i for i, _ in rrf_fuse([[1, 2], [2, 1]], weights=[1.0, 2.0])] == [2, 1]
    assert [i for i, _ in rrf_fuse([[1, 2], [2, 1]], weights=[2.0, 1.0])] == [1, 2]
    assert rrf_fuse([[5], [5]], weights=[1.0, 3.0])[0] == (5, 1.0)



@pytest.mark.slow
@pytest.mark.parametrize("query,doc_id", [
    ("Who attends the Improvement Board?", SEPT_UPDATE),
    ("What happened to the Cherry Road children's home?", SEPT_UPDATE),
    ("When did Lisa Lyons leave?", "cmu-2022-03-15-childrens-social-care"),
])
def test_real_corpus_ranks_the_right_paper_first(corpus_assistant_real, query, doc_id):
    assert corpus_assistant_real.search(query, k=3)[0].meta.doc_id == doc_id


def test_filters_apply_before_the_cut(corpus_assistant):
    releases = corpus_assistant.search("Improvement Board", k=3, doc_types=["press-release"])
    assert len(releases) == 3 and all(p.meta.doc_type == "press-release" for p in releases)
    since = corpus_assistant.search("Ofsted inspection", k=10, since="2022-03-01")
    assert since and all(p.meta.date >= "2022-03-01" for p in since)
    window = corpus_assistant.search("social workers", k=10, since="2021-09-01", until="2021-12-31")
    assert {p.meta.doc_id for p in window} == {SEPT_UPDATE}
    assert corpus_assistant.search("anything", k=5, doc_types=["minutes"]) == []


def test_passages_quote_their_documents(corpus_assistant):
    for passage in corpus_assistant.search("recruitment of social workers", k=10):
        document = corpus_assistant.document(passage.meta.doc_id)
        assert document.text[passage.chunk.start:passage.chunk.end] == passage.chunk.text
        assert 0 < passage.score <= 1.0
    ranks = [p.rank for p in corpus_assistant.search("recruitment of social workers", k=10)]
    assert ranks == list(range(1, len(ranks) + 1))


@pytest.mark.parametrize("kwargs,message", [
    (dict(query=""), "empty"),
    (dict(query="\x00\x07 \u200b"), "empty"),
    (dict(query="x" * 100_000), "limit"),
    (dict(query="board", since="March 2022"), "not a date"),
    (dict(query="board", since="2022-05-01", until="2021-01-01"), "after"),
    (dict(query="board", k=0), "at least 1"),
])
def test_bad_queries_get_clear_errors(corpus_assistant, kwargs, message):
    with pytest.raises(QueryError, match=message):
        corpus_assistant.search(**kwargs)


def test_search_before_any_index_is_a_clear_error(make_settings):
    from assistant.app import Assistant

    with pytest.raises(IndexNotFoundError, match="council-assistant ingest"):
        Assistant(make_settings()).search("board")


def run_cli(*args, cwd=ROOT, stdin=None):
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})


@pytest.mark.slow
def test_cli_ingest_then_search_json(tmp_path):
    index = tmp_path / "index"
    ingest = run_cli("--index", str(index), "ingest", str(CORPUS))
    assert ingest.returncode == 0, ingest.stderr
    assert "5 added" in ingest.stdout
    result = run_cli("--index", str(index), "search", "--json", "Who attends the Improvement Board?")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["query"] == "Who attends the Improvement Board?"
    first = payload["results"][0]
    assert set(first) == {"rank", "doc_id", "title", "date", "doc_type", "source", "page", "item", "ocr", "inferred", "text", "score"}
    assert first["doc_id"] == SEPT_UPDATE and first["date"] == "2021-09-28" and first["rank"] == 1

    bad = run_cli("--index", str(index), "search", "--json", "board", "--since", "yesterday")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("council-assistant: ") and "Traceback" not in bad.stderr

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    failed = run_cli("--index", str(index), "ingest", str(empty), str(CORPUS))
    assert failed.returncode == 1
    assert f"failed: {empty}: empty file" in failed.stderr
    assert "5 unchanged, 1 failed" in failed.stdout


def test_cli_without_index_fails_cleanly(tmp_path):
    result = run_cli("--index", str(tmp_path / "none"), "search", "board")
    assert result.returncode == 1 and "no index yet" in result.stderr and "Traceback" not in result.stderr


def test_named_councils_matches_distinctive_words_only():
    from assistant.query_cues import named_councils

    councils = ["Sefton Council", "Wyndham Vale Metropolitan Borough Council", "Council of the Isles"]
    assert named_councils("When did the DfE issue Sefton's improvement notice?", councils) == ("Sefton Council",)
    assert named_councils("what about wyndham vale and SEFTON", councils) == ("Sefton Council",
                                                                              "Wyndham Vale Metropolitan Borough Council")
    assert named_councils("Which council met in the vale?", councils) == ()
    assert named_councils("Seftonian history", councils) == ()


def test_council_filter_scope_and_named_council(tmp_path, encoder):
    """Papers of two councils: an explicit filter, the settings' scope and a named council each keep
    the results to that council; an unknown council filters everything out."""
    import shutil

    from assistant.app import Assistant
    from assistant.settings import Settings

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    other = tmp_path / "other"
    other.mkdir()
    (other / "board.txt").write_text("Improvement Board update\n\nThe Improvement Board of Brackenmoor is attended "
                                     "by the Lead Member and the DfE Advisor, Ann Other, and it meets monthly.\n")
    (other / "manifest.toml").write_text('[defaults]\ncouncil = "Brackenmoor Council"\n')
    assistant = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False), encoder=encoder)
    assert not assistant.ingest([corpus, other]).failed
    question = "Who attends the Improvement Board?"
    assert {p.meta.council for p in assistant.search(question, k=10)} == {"Sefton Council", "Brackenmoor Council"}
    assert {p.meta.council for p in assistant.search(question, k=10, councils=["brackenmoor council"])} == {
        "Brackenmoor Council"}
    assert {p.meta.council for p in assistant.search("Who attends Brackenmoor's Improvement Board?", k=10)} == {
        "Brackenmoor Council"}
    assert assistant.search(question, councils=["Nowhere Council"]) == []
    scoped = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False,
                                     council_scope="Sefton Council"), encoder=encoder)
    assert {p.meta.council for p in scoped.search(question, k=10)} == {"Sefton Council"}
    assert all(c.meta.council == "Sefton Council" for c in scoped.ask(question).citations)


def test_a_councils_papers_rank_among_other_councils_as_in_an_index_of_their_own(tmp_path, encoder,
                                                                                  corpus_assistant_faiss):
    """Another council's papers, written in the same vocabulary, change the word statistics of the
    whole index; a search kept to Sefton still ranks Sefton's papers exactly as the corpus alone does."""
    import shutil

    from assistant.app import Assistant
    from assistant.eval_questions import DEFAULT_QUESTIONS, load_questions
    from assistant.settings import Settings

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    other = tmp_path / "other"
    other.mkdir()
    topics = ["the Improvement Board", "Ofsted", "social workers", "foster carers", "the DfE Advisor",
              "the improvement notice", "children's social care", "the Cabinet"]
    for n in range(40):
        (other / f"update-{n:02d}.txt").write_text(
            f"Brackenmoor update {n}\n\n" + " ".join(
                f"In week {n + 1}, {topic} in Brackenmoor reviewed caseloads, recruitment and budgets for item {n * 8 + j}."
                for j, topic in enumerate(topics)), encoding="utf-8")
    (other / "manifest.toml").write_text('[defaults]\ncouncil = "Brackenmoor Council"\n')
    mixed = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False,
                                    council_scope="Sefton Council"), encoder=encoder)
    assert not mixed.ingest([corpus, other]).failed
    alone = corpus_assistant_faiss

    def ranking(assistant, question, **filters):
        return [(p.meta.doc_id, p.chunk.ord, round(p.sparse_score or 0, 4), round(p.score, 4))
                for p in assistant.search(question, k=10, **filters)]

    for question in [q.question for q in load_questions(DEFAULT_QUESTIONS)][:40]:
        assert ranking(mixed, question) == ranking(alone, question), question
    question = "Who attends the Improvement Board?"
    assert ranking(mixed, question, doc_types=["press-release"]) == ranking(alone, question, doc_types=["press-release"])
    # what the whole index's statistics would give Sefton's chunks: other scores
    index = Index.open(mixed.settings.index_dir)
    try:
        sefton = index.store.matching_ids(SearchFilters(councils=("Sefton Council",)))
        masked = [round(s, 4) for _, s in index.sparse.search(question, 10, sefton)]
    finally:
        index.close()
    assert masked and masked != [round(p.score, 4) for p in alone.ranking(question, 10, "bm25")]


@pytest.mark.parametrize("ids", [[10, 20, 30, 40], [40, 10, 30, 20]])
def test_bm25_allowed_ids_mask_rows_whatever_their_order(ids):
    import numpy as np

    from assistant.sparse import SparseIndex

    texts = ["fostering allowance rises", "fostering panel meets", "adoption panel meets", "fostering fees"]
    index = SparseIndex.build(np.array(ids), texts)
    assert {i for i, _ in index.search("fostering", 10)} == {ids[0], ids[1], ids[3]}
    assert [i for i, _ in index.search("fostering", 10, np.array([ids[1], 999]))] == [ids[1]]
    assert index.search("fostering", 10, np.array([ids[2]])) == []
