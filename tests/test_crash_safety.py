"""Crash safety: `council-assistant ingest` killed (SIGKILL) in each phase leaves the last good index
answering exactly as before, a re-run completes, and two ingests at once never mix their builds.

Each phase is recognised by the line ingest logs when it starts (`-v`): "checking N file(s)"
(extraction, in the worker process), "writing a new build", "embedding N chunk(s)", "publishing".
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.index import Index
from assistant.settings import Settings
from conftest import ROOT, make_pdf
from test_hostile_files import slow_pdf

# the ingests run as CLI processes (to be killed), so they load the real model
pytestmark = pytest.mark.slow


QUESTIONS = ["Who chairs the Improvement Board?", "What rating did Ofsted give children's services?",
             "How many foster carers were recruited?"]
WAITING = "another ingest is running; waiting for it to finish"


class Run:
    """`council-assistant -v ingest` in a subprocess; its standard error is collected line by line."""

    def __init__(self, index_dir: Path, *paths: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant", "-v", "--index", str(index_dir), "ingest", *map(str, paths)],
            cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.closed = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait_for(self, marker: str, timeout: float = 300) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.closed or any(marker in line for line in self.lines), timeout)
            assert any(marker in line for line in self.lines), \
                f"no line with {marker!r} within {timeout} s; stderr:\n" + "\n".join(self.lines)

    def kill(self) -> int:
        """SIGKILL; the exit status (-9, unless the process had already ended)."""
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(60)

    def finish(self, timeout: float = 600) -> tuple[int, str]:
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        with self._changed:
            self._changed.wait_for(lambda: self.closed, 10)
        return code, out

    def children(self) -> list[int]:
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
        return pids


def index_state(index_dir: Path) -> dict:
    """The published build: its name, every chunk as (doc_id, ord, text), its files; checks consistency."""
    index = Index.open(index_dir)
    try:
        rows = index.store.db.execute("SELECT doc_id, ord, text, id FROM chunks ORDER BY doc_id, ord").fetchall()
        assert len({(doc_id, ord) for doc_id, ord, *_ in rows}) == len(rows), "a chunk is stored twice"
        assert len(index.vectors) == len(rows) == index.manifest["chunks"]
        assert sorted(index.sparse.ids.tolist()) == sorted(row[3] for row in rows)
        return {"build": index.folder.name, "chunks": [row[:3] for row in rows],
                "files": sorted(Path(key).name for key in index.manifest["files"])}
    finally:
        index.close()


def answers(index_dir: Path, embedder) -> list:
    """Search results and answers to QUESTIONS from a fresh Assistant on the published build."""
    assistant = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False), encoder=embedder)
    out = []
    for question in QUESTIONS:
        passages = [(p.meta.doc_id, p.chunk.ord, round(p.score, 5)) for p in assistant.search(question, k=5)]
        answer = assistant.ask(question)
        out.append((question, passages, answer.text, [c.quote for c in answer.citations]))
    return out


def clean_build(folder: Path, index_dir: Path, embedder) -> dict:
    assistant = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False), encoder=embedder)
    report = assistant.ingest([folder], rebuild=True)
    assert not report.failed, report.failed
    return index_state(index_dir)


def add_papers(folder: Path) -> None:
    (folder / "000-slow-minutes.pdf").write_bytes(slow_pdf(60_000))
    (folder / "2022-06-fostering.txt").write_text(
        "Sefton recruited twelve new foster carers in June 2022. " * 3 + "\n\n"
        "The fostering service held three information evenings. Each was attended by about twenty people.",
        encoding="utf-8")
    (folder / "2022-07-kinship.md").write_text(
        "# Kinship care\n\nFamily and friends carers now receive the same allowances as foster carers.",
        encoding="utf-8")
    make_pdf(folder / "2022-08-board-minutes.pdf",
             ["The Improvement Board met on 4 August 2022.", "Caseloads fell to 18 per social worker.",
              "The next meeting is in September."])


def add_long_paper(folder: Path) -> None:
    """A paper long enough to embed (thousands of distinct sentences) that a kill a second into the
    embedding phase lands inside it on any machine."""
    (folder / "2022-09-ward-referrals.txt").write_text(" ".join(
        f"Ward {i} reported {i * 7 % 97} referrals to early help in week {i % 52 + 1} of the year."
        for i in range(3000)), encoding="utf-8")


@pytest.fixture
def cwd_root(monkeypatch):
    """Index keys are paths relative to the working folder: build in-process from the same one as the CLI."""
    monkeypatch.chdir(ROOT)


def test_sigkill_in_each_phase_leaves_the_last_good_index(corpus_copy, tmp_path, embedder, cwd_root):
    index_dir = tmp_path / "index"
    baseline = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False), encoder=embedder)
    assert len(baseline.ingest([corpus_copy]).added) == 5
    before, before_answers = index_state(index_dir), answers(index_dir, embedder)
    add_papers(corpus_copy)
    add_long_paper(corpus_copy)
    expected = clean_build(corpus_copy, tmp_path / "clean", embedder)

    run = Run(index_dir, corpus_copy)
    run.wait_for("assistant.ingest: checking 10 file(s) for changes")
    deadline = time.monotonic() + 60
    while not (workers := run.children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers, "no extraction worker appeared"
    time.sleep(0.5)
    assert run.kill() == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "the worker outlived the killed ingest"
    assert index_state(index_dir) == before and answers(index_dir, embedder) == before_answers

    for marker, delay in [("writing a new build in", 0.5), ("embedding ", 1.0)]:
        run = Run(index_dir, corpus_copy)
        run.wait_for(f"assistant.ingest: {marker}")
        time.sleep(delay)
        assert run.kill() == -signal.SIGKILL, f"ingest ended before the kill {delay} s after {marker!r}"
        assert index_state(index_dir) == before, marker
        assert answers(index_dir, embedder) == before_answers, marker
        assert not any(WAITING in line for line in run.lines), "the lock was still held"

    run = Run(index_dir, corpus_copy)
    run.wait_for("assistant.ingest: publishing")
    run.kill()
    after_publish_kill = index_state(index_dir)
    print(f"killed while publishing: the index is the {'old' if after_publish_kill == before else 'new'} build")
    assert after_publish_kill["chunks"] in (before["chunks"], expected["chunks"])
    if after_publish_kill["chunks"] == before["chunks"]:
        assert answers(index_dir, embedder) == before_answers

    run = Run(index_dir, corpus_copy)
    code, out = run.finish()
    assert code == 0, "\n".join(run.lines)
    assert not any(WAITING in line for line in run.lines)
    state = index_state(index_dir)
    assert state["chunks"] == expected["chunks"] and state["files"] == expected["files"]
    assert answers(index_dir, embedder) == answers(tmp_path / "clean", embedder)
    if not out.startswith("0 added"):
        assert [p.name for p in (index_dir / "builds").iterdir()] == [state["build"]], "an abandoned build was kept"


def test_two_ingests_at_once_one_waits_and_a_killed_one_frees_the_lock(corpus_copy, tmp_path, embedder, cwd_root):
    index_dir = tmp_path / "index"
    add_papers(corpus_copy)
    expected = clean_build(corpus_copy, tmp_path / "clean", embedder)

    first = Run(index_dir, corpus_copy)
    first.wait_for("assistant.ingest: checking")
    second = Run(index_dir, corpus_copy)
    second.wait_for(WAITING)
    assert first.kill() == -signal.SIGKILL
    code, out = second.finish()
    assert code == 0, "\n".join(second.lines)
    assert out.strip().splitlines()[-1].startswith("9 added, 0 updated, 0 removed, 0 unchanged, 0 failed")
    state = index_state(index_dir)
    assert state["chunks"] == expected["chunks"] and state["files"] == expected["files"]

    (corpus_copy / "2022-09-care-leavers.txt").write_text(
        "The care leavers' offer was reviewed in September 2022.", encoding="utf-8")
    (corpus_copy / "000-slow-minutes.pdf").write_bytes(slow_pdf(60_001))
    expected = clean_build(corpus_copy, tmp_path / "clean-2", embedder)
    first = Run(index_dir, corpus_copy)
    first.wait_for("assistant.ingest: checking")
    second = Run(index_dir, corpus_copy)
    second.wait_for(WAITING)
    first_code, first_out = first.finish()
    second_code, second_out = second.finish()
    assert first_code == 0 and second_code == 0, "\n".join(first.lines + second.lines)
    assert first_out.strip().splitlines()[-1].startswith("1 added, 1 updated, 0 removed, 8 unchanged, 0 failed")
    assert second_out.strip().splitlines()[-1].startswith("0 added, 0 updated, 0 removed, 10 unchanged, 0 failed")
    state = index_state(index_dir)
    assert state["chunks"] == expected["chunks"] and state["files"] == expected["files"]
    assert answers(index_dir, embedder) == answers(tmp_path / "clean-2", embedder)
