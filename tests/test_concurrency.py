"""Many users at once, and an ingest while the app serves them.

Through the served app (a real server on loopback, one `gradio_client` per simulated user): sixteen users
asking at once get exactly the answers one user gets alone, and a build published by an ingest in
another process is picked up between two queries, with no error and no answer from a mix of builds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT

CLIENTS = 16
QUESTIONS_PER_CLIENT = 25
RELOAD_CLIENTS = 4
INGEST_SECONDS = 600
# A fact no paper in the corpus states, and a question only it answers.
NEW_FILE = "2022-06-01-press-release-heron-statue.txt"
NEW_TEXT = ("Bootle heron statue repainted\n\n"
            "The heron statue outside Bootle Town Hall was repainted bright purple in June 2022. "
            "The heritage officer said the purple paint will protect the statue for ten years.\n")
NEW_QUESTION = "What colour was the heron statue outside Bootle Town Hall repainted?"


def eval_questions(n: int) -> list[str]:
    """`n` questions from the eval suite, answerable and not, interleaved two to one (question text only)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open(encoding="utf-8")]
    answerable = [r["question"] for r in rows if r["answerable"]]
    other = [r["question"] for r in rows if not r["answerable"]]
    mixed = []
    while len(mixed) < n:
        mixed.extend(answerable[:2] + other[:1])
        answerable, other = answerable[2:], other[1:]
    return mixed[:n]


def comparable(result: dict) -> dict:
    """An /ask result without its latency: text, answered, query and citations (quotes, offsets, scores)."""
    return {k: v for k, v in result.items() if k != "latency_ms"}


@dataclass
class Call:
    question: str
    started: float
    ended: float
    result: dict | None = None
    error: str | None = None


@dataclass
class User:
    """One simulated user: its own gradio_client, asking questions one after another."""

    url: str
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        from gradio_client import Client

        self.client = Client(self.url, verbose=False)

    def ask(self, question: str) -> Call:
        started = time.monotonic()
        try:
            call = Call(question, started, 0.0, result=self.client.predict(question, api_name="/ask"))
        except Exception as exc:  # every failure is recorded; the test asserts there are none
            call = Call(question, started, 0.0, error=f"{type(exc).__name__}: {exc}")
        call.ended = time.monotonic()
        self.calls.append(call)
        return call


def most_in_flight(calls: list[Call]) -> int:
    """The largest number of calls that were in flight at the same moment."""
    events = sorted([(c.started, 1) for c in calls] + [(c.ended, -1) for c in calls])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_sixteen_users_at_once_get_exactly_the_answers_one_user_gets(corpus_assistant, serve_app):
    url = serve_app(corpus_assistant).local_url
    questions = eval_questions(QUESTIONS_PER_CLIENT)
    alone = User(url)
    expected = {q: comparable(alone.ask(q).result) for q in questions}
    assert any(r["answered"] for r in expected.values()) and not all(r["answered"] for r in expected.values())

    users = [User(url) for _ in range(CLIENTS)]
    threads = [threading.Thread(target=lambda u=u, i=i: [u.ask(q) for q in questions[i:] + questions[:i]])
               for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    calls = [c for u in users for c in u.calls]
    assert len(calls) == CLIENTS * QUESTIONS_PER_CLIENT
    assert [c.error for c in calls if c.error] == []
    wrong = [c.question for c in calls if comparable(c.result) != expected[c.question]]
    assert wrong == [], f"{len(wrong)} answers differ from the one-user answer"
    assert most_in_flight(calls) >= CLIENTS // 2, "the users should have been asking at the same time"


@pytest.fixture
def served_copy(tmp_path, embedder, serve_app):
    """(Assistant, URL, corpus copy) for an index of a copy of the corpus, served on loopback; with the
    real model, since another process (the CLI) ingests into the same index."""
    from assistant.app import Assistant
    from assistant.settings import Settings

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    assistant = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False), encoder=embedder)
    assert not assistant.ingest([corpus]).failed
    return assistant, serve_app(assistant).local_url, corpus


def ingest_process(index_dir: Path, corpus: Path) -> subprocess.Popen:
    """`council-assistant ingest` in its own process, with default settings (no COUNCIL_ASSISTANT_*
    variables from the test's environment). It runs in this process's working folder, since the index
    keys files by their path relative to it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(index_dir), "ingest", str(corpus)],
                            cwd=Path.cwd(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_an_ingest_in_another_process_is_picked_up_between_queries_without_errors(served_copy):
    assistant, url, corpus = served_copy
    questions = eval_questions(6) + [NEW_QUESTION]
    probe = User(url)
    before = {q: comparable(probe.ask(q).result) for q in questions}
    assert before[NEW_QUESTION]["answered"] is False
    old_build = assistant.info()["build"]

    stop = threading.Event()
    users = [User(url) for _ in range(RELOAD_CLIENTS)]

    def keep_asking(user: User, offset: int) -> None:
        while not stop.is_set():
            for question in questions[offset:] + questions[:offset]:
                user.ask(question)

    threads = [threading.Thread(target=keep_asking, args=(u, i)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        (corpus / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
        ingest_started = time.monotonic()
        process = ingest_process(assistant.settings.index_dir, corpus)
        out, err = process.communicate(timeout=INGEST_SECONDS)
        ingest_ended = time.monotonic()
        assert process.returncode == 0, err
        assert out.startswith("1 added, 0 updated, 0 removed"), out
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    after = {q: comparable(probe.ask(q).result) for q in questions}
    assert after[NEW_QUESTION]["answered"] is True and "purple" in after[NEW_QUESTION]["answer"]
    assert {c["doc_id"] for c in after[NEW_QUESTION]["citations"]} == {"2022-06-01-press-release-heron-statue"}
    assert assistant.info()["build"] != old_build
    assert "2022-06-01-press-release-heron-statue" in {d["doc_id"] for d in probe.client.predict(
        api_name="/documents")}

    calls = [c for u in users for c in u.calls]
    assert [c.error for c in calls if c.error] == []
    mixed = [c.question for c in calls if comparable(c.result) not in (before[c.question], after[c.question])]
    assert mixed == [], "every answer comes from the old build or the new one"
    for c in calls:
        if c.ended < ingest_started:
            assert comparable(c.result) == before[c.question]
        if c.started > ingest_ended:
            assert comparable(c.result) == after[c.question]
    for user in users:  # once a user has seen the new build, it never sees the old one again
        new = [comparable(c.result) == after[NEW_QUESTION] for c in user.calls if c.question == NEW_QUESTION]
        assert new == sorted(new) and new[0] is False and new[-1] is True, new


def test_a_search_begun_on_the_old_build_finishes_on_it(tmp_path, encoder, corpus_copy):
    """Reads the Assistant's private `_index`: what is tested is how it swaps the build it serves."""
    from assistant.app import Assistant
    from assistant.retrieval import HybridRetriever
    from assistant.settings import Settings

    settings = Settings.load(env={}, index_dir=tmp_path / "index", progress=False)
    serving, publisher = Assistant(settings, encoder=encoder), Assistant(settings, encoder=encoder)
    publisher.ingest([corpus_copy])
    old = serving._index
    assert serving._index is old, "no new build: the open index is kept"

    (corpus_copy / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    publisher.ingest([corpus_copy])
    assert not old.folder.exists(), "ingest removes the superseded build's folder"
    stale = HybridRetriever(old, encoder).search(NEW_QUESTION, 5)  # a search that held the old build
    assert stale and all(p.meta.doc_id != "2022-06-01-press-release-heron-statue" for p in stale)
    assert len(old.store.documents()) == 5

    assert serving._index is not old and len(serving.documents()) == 6
    answer = serving.ask(NEW_QUESTION)
    assert answer.answered and "purple" in answer.text


def test_a_page_load_shows_the_library_of_the_current_build(tmp_path, encoder, corpus_copy):
    from assistant.app import Assistant
    from assistant.settings import Settings
    from assistant.ui import Actions

    assistant = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False), encoder=encoder)
    assistant.ingest([corpus_copy])
    actions = Actions(assistant)
    header, summary, rows, doc_ids, *_ = actions.library_view()
    assert len(rows) == len(doc_ids) == 5 and "5 papers" in header

    (corpus_copy / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    assistant.ingest([corpus_copy])
    header, summary, rows, doc_ids, *_ = actions.library_view()
    assert "2022-06-01-press-release-heron-statue" in doc_ids and len(rows) == 6
    assert "6 papers" in header and summary.startswith("**6** papers")
