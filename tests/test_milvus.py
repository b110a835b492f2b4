"""The Milvus vector store against a real Milvus standalone server (tests marked `milvus`), and its
filter expressions (no server). The search, ask and ingest behaviours run on both stores in
test_search.py, test_answering.py and test_ingest.py."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.app import Assistant
from assistant.errors import IndexMismatchError, SettingsError
from assistant.eval_questions import DEFAULT_QUESTIONS, load_questions
from assistant.index import Index, current_build
from assistant.milvus_store import collection_name, date_number, filter_expression
from assistant.settings import Settings
from assistant.types import SearchFilters
from conftest import CORPUS, MILVUS_TOKEN_ENV, ROOT, free_port


# -- no server -------------------------------------------------------------------------------------
@pytest.mark.parametrize("earlier,later", [
    ("2021-09-15", "2021-09-16"), ("2021-09", "2021-09-01"), ("2021", "2021-01-01"), ("2021-12-31", "2022"),
    (None, "1999-01-01"),
])
def test_date_numbers_order_as_the_iso_strings_do(earlier, later):
    assert date_number(earlier) < date_number(later)
    if earlier is not None:
        assert (earlier < later) == (date_number(earlier) < date_number(later))


def test_filter_expressions_quote_values_and_lower_councils():
    assert filter_expression(SearchFilters()) == ""
    expression = filter_expression(SearchFilters(since="2021-09-01", until="2022-03-31",
                                                 doc_types=("press-release", 'a"b'), councils=("Sefton Council",)))
    assert expression == ('date >= 20210901 and date > 0 and date <= 20220331 and '
                          "doc_type in ['press-release', 'a\"b'] and council in ['sefton council']")


def test_collection_names_are_what_milvus_accepts():
    assert collection_name("council_assistant", ".tmp-20261124T001700-eddfa94c") == \
        "council_assistant_20261124T001700_eddfa94c"


@pytest.mark.parametrize("overrides,field", [
    ({"vector_store": "chroma"}, "vector_store"), ({"milvus_collection": "bad-name"}, "milvus_collection"),
])
def test_bad_store_settings_name_the_setting(overrides, field):
    with pytest.raises(SettingsError, match=field):
        Settings.load(env={}, **overrides)


# -- against the server ----------------------------------------------------------------------------
@pytest.mark.milvus
@pytest.mark.slow
def test_milvus_and_faiss_rank_every_eval_question_alike(corpus_assistant_faiss, corpus_assistant_milvus):
    """Both indexes hold the same vectors and search exactly, so dense rankings and fused results agree."""
    faiss_index, milvus_index = corpus_assistant_faiss._index, corpus_assistant_milvus._index
    assert milvus_index.manifest["vectors"]["store"] == "milvus"
    assert faiss_index.manifest["vectors"]["store"] == "faiss"
    encoder = corpus_assistant_faiss.encoder
    swapped = 0
    for question in load_questions(DEFAULT_QUESTIONS):
        vector = encoder.embed_query(question.question)
        dense_faiss = faiss_index.vectors.search(vector, 20)
        dense_milvus = milvus_index.vectors.search(vector, 20)
        # the stores number chunks alike (same corpus, same order), so ids compare directly; two chunks
        # whose cosines tie to within float32 rounding may come in either order
        assert np.allclose([s for _, s in dense_milvus], [s for _, s in dense_faiss], atol=1e-5)
        for (got, got_score), (want, want_score) in zip(dense_milvus, dense_faiss):
            assert got == want or abs(got_score - want_score) <= 1e-5, question.question
        got = corpus_assistant_milvus.search(question.question, k=5)
        want = corpus_assistant_faiss.search(question.question, k=5)
        ties = 0
        for g, w in zip(got, want, strict=True):
            if (g.meta.doc_id, g.chunk.ord) != (w.meta.doc_id, w.chunk.ord):
                # only a dense near-tie swapped: the fused scores of the two stay within a rank step
                assert abs(g.score - w.score) < 0.01, question.question
                ties += 1
        swapped += ties > 0
    assert swapped <= 3, f"{swapped} questions ranked differently"


@pytest.mark.milvus
@pytest.mark.slow
def test_filters_run_inside_milvus_before_the_top_k(corpus_assistant_milvus):
    index = corpus_assistant_milvus._index
    vector = corpus_assistant_milvus.encoder.embed_query("Improvement Board")
    releases = SearchFilters(doc_types=("press-release",))
    hits = index.vectors.search(vector, 5, filters=releases)  # no id list: the expression alone filters
    allowed = set(index.store.matching_ids(releases).tolist())
    assert len(hits) == 5 and {i for i, _ in hits} <= allowed
    everything = [i for i, _ in index.vectors.search(vector, len(index.store.chunk_ids()))]
    assert [i for i, _ in hits] == [i for i in everything if i in allowed][:5]
    window = SearchFilters(since="2021-09-01", until="2021-12-31")
    in_window = set(index.store.matching_ids(window).tolist())
    assert {i for i, _ in index.vectors.search(vector, 50, filters=window)} == in_window
    assert index.vectors.search(vector, 5, filters=SearchFilters(councils=("Nowhere Council",))) == []
    # quotes and backslashes in a filter value are data, never a broken or widened expression
    odd = SearchFilters(doc_types=('press-release" or id >= 0 or doc_type == "', "o'clock\\", "x') or (id >= 0"))
    assert index.vectors.search(vector, 5, filters=odd) == []


@pytest.mark.milvus
@pytest.mark.slow
def test_each_ingest_makes_a_collection_and_drops_all_but_the_last_two(tmp_path, corpus_copy, encoder, milvus_uri):
    from pymilvus import MilvusClient

    settings = Settings.load(env={}, index_dir=tmp_path / "index", progress=False, vector_store="milvus",
                             milvus_uri=milvus_uri, milvus_collection="lifecycle", milvus_token_env=MILVUS_TOKEN_ENV)
    assistant = Assistant(settings, encoder=encoder)
    client = MilvusClient(uri=milvus_uri, token=os.environ[MILVUS_TOKEN_ENV])
    try:
        def ours():
            return sorted(c for c in client.list_collections() if c.startswith("lifecycle_"))

        abandoned = "lifecycle_20200101T000000_0123abcd"  # what a killed ingest leaves behind
        client.create_collection(abandoned, dimension=8)
        collections = []
        for round_ in range(3):
            (corpus_copy / f"note-{round_}.txt").write_text(f"Sefton opened family hub number {round_ + 1}.",
                                                            encoding="utf-8")
            assert assistant.ingest([corpus_copy]).added
            collections.append(Index.open(settings.index_dir, settings).manifest["vectors"]["collection"])
            assert assistant.search(f"family hub number {round_ + 1}", k=1)[0].meta.doc_id == f"note-{round_}"
        assert ours() == sorted(collections[-2:])
        assert abandoned not in ours()
    finally:
        client.close()


@pytest.mark.milvus
@pytest.mark.slow
def test_a_milvus_index_needs_no_store_setting_to_read_but_refuses_a_mixed_ingest(corpus_assistant_milvus, corpus_copy,
                                                                                  encoder):
    index_dir = corpus_assistant_milvus.settings.index_dir
    # vector_store and milvus_uri left unset: the index's manifest says where its vectors are
    reader = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False, milvus_token_env=MILVUS_TOKEN_ENV),
                       encoder=encoder)
    question = "Who attends the Improvement Board?"
    assert [p.chunk.text for p in reader.search(question)] == \
        [p.chunk.text for p in corpus_assistant_milvus.search(question)]
    with pytest.raises(IndexMismatchError, match="vector_store='faiss'"):
        reader.ingest([corpus_copy])


@pytest.mark.milvus
@pytest.mark.slow
def test_an_unreachable_server_is_one_clear_error(tmp_path, corpus_copy, encoder):
    settings = Settings.load(env={}, index_dir=tmp_path / "index", progress=False, vector_store="milvus",
                             milvus_uri=f"http://127.0.0.1:{free_port()}")
    assistant = Assistant(settings, encoder=encoder)
    with pytest.raises(SettingsError, match="milvus_uri=.*cannot connect to Milvus"):
        assistant.ingest([corpus_copy])
    assert current_build(settings.index_dir) is None


@pytest.mark.milvus
@pytest.mark.slow
def test_a_server_with_authentication_refuses_missing_or_wrong_credentials_clearly(
        corpus_assistant_milvus, tmp_path, corpus_copy, encoder, milvus_uri, monkeypatch):
    index_dir = corpus_assistant_milvus.settings.index_dir
    build = current_build(index_dir)
    monkeypatch.setenv("WRONG_MILVUS_TOKEN", "root:not-the-password")
    for token_env in (None, "WRONG_MILVUS_TOKEN"):
        reader = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False, milvus_token_env=token_env),
                           encoder=encoder)
        with pytest.raises(SettingsError, match="cannot connect to Milvus.*milvus_token_env"):
            reader.search("Improvement Board")
        writer = Assistant(Settings.load(env={}, index_dir=tmp_path / f"index-{token_env}", progress=False,
                                         vector_store="milvus", milvus_uri=milvus_uri, milvus_token_env=token_env),
                           encoder=encoder)
        with pytest.raises(SettingsError, match="milvus_token_env"):
            writer.ingest([corpus_copy])
        assert current_build(writer.settings.index_dir) is None
    assert current_build(index_dir) == build and corpus_assistant_milvus.search("Improvement Board")


# -- replicas ---------------------------------------------------------------------------------------
def _start_chat(index_dir, env, port, log):
    return subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(index_dir), "chat", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _client(url, deadline):
    from gradio_client import Client

    while True:
        try:
            return Client(url, verbose=False)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.milvus
@pytest.mark.slow
def test_two_replicas_answer_alike_and_both_see_a_third_process_ingest(tmp_path, corpus_copy, milvus_uri):
    """Two chat processes on one index folder and one Milvus; an ingest run from a third process is
    answered from by both, with no restart."""
    index_dir = tmp_path / "index"
    env = dict(os.environ, HF_HUB_OFFLINE="1", COUNCIL_ASSISTANT_VECTOR_STORE="milvus",
               COUNCIL_ASSISTANT_MILVUS_URI=milvus_uri, COUNCIL_ASSISTANT_MILVUS_COLLECTION="replicas",
               COUNCIL_ASSISTANT_MILVUS_TOKEN_ENV=MILVUS_TOKEN_ENV,
               COUNCIL_ASSISTANT_PROGRESS="false")
    ingest = [sys.executable, "-m", "assistant", "--index", str(index_dir), "ingest", str(corpus_copy)]
    subprocess.run(ingest, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    ports = [free_port(), free_port()]
    logs = [open(tmp_path / f"replica-{n}.log", "wb") for n in range(2)]
    replicas = [_start_chat(index_dir, env, port, log) for port, log in zip(ports, logs)]
    try:
        deadline = time.monotonic() + 180
        clients = [_client(f"http://127.0.0.1:{port}/", deadline) for port in ports]

        def ask(client, question):
            answer = client.predict(question, api_name="/ask")
            answer.pop("latency_ms")
            return answer

        question = "Who attends the Improvement Board?"
        first = [ask(c, question) for c in clients]
        assert first[0] == first[1] and first[0]["citations"]

        (corpus_copy / "2022-07-kinship.txt").write_text(
            "Sefton Council appointed Priya Raman as kinship care lead in July 2022.", encoding="utf-8")
        done = subprocess.run(ingest, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        later = [ask(c, "Who was appointed kinship care lead?") for c in clients]
        assert later[0] == later[1]
        assert "Priya Raman" in later[0]["answer"]
        assert later[0]["citations"][0]["doc_id"] == "2022-07-kinship"
    finally:
        for process in replicas:
            process.terminate()
        for process in replicas:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


@pytest.mark.milvus
@pytest.mark.slow
def test_the_eval_suite_runs_unchanged_on_milvus(corpus_assistant_faiss, corpus_assistant_milvus):
    """The same questions score alike on both stores; only a dense near-tie (see above) may change a verdict."""
    from assistant.eval_run import evaluate
    from assistant.evaluation import summarise

    questions = load_questions(DEFAULT_QUESTIONS)
    on_faiss, on_milvus = evaluate(corpus_assistant_faiss, questions), evaluate(corpus_assistant_milvus, questions)
    differing = [f.question for f, m in zip(on_faiss, on_milvus, strict=True) if f.correct != m.correct]
    assert len(differing) <= 2, differing
    assert summarise(on_milvus)["hit_at_1"] == pytest.approx(summarise(on_faiss)["hit_at_1"], abs=2 / len(questions))


@pytest.mark.milvus
@pytest.mark.slow
def test_beyond_the_flat_limit_an_ivf_index_replaces_the_flat_one(tmp_path, corpus_copy, encoder, milvus_uri,
                                                                  monkeypatch, corpus_assistant_faiss):
    """The IVF path (release, drop the FLAT index, build IVF_FLAT, load) on a real server; the flat
    limit is lowered so that the corpus crosses it."""
    import assistant.milvus_store as milvus_store

    monkeypatch.setattr(milvus_store, "kind_for", lambda n: "ivf")
    settings = Settings.load(env={}, index_dir=tmp_path / "index", progress=False, vector_store="milvus",
                             milvus_uri=milvus_uri, milvus_collection="ivf", milvus_token_env=MILVUS_TOKEN_ENV)
    assistant = Assistant(settings, encoder=encoder)
    assert not assistant.ingest([corpus_copy]).failed
    vectors = assistant._index.vectors
    assert vectors.kind == "ivf" and vectors.description.startswith("milvus-ivf-flat-ip-nprobe")
    assert assistant._index.manifest["vectors"]["nprobe"] == vectors.nprobe
    assert len(vectors) == assistant._index.store.chunk_count()
    question = "Who attends the Improvement Board?"
    assert [p.chunk.text for p in assistant.search(question)] == \
        [p.chunk.text for p in corpus_assistant_faiss.search(question)]
