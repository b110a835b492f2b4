"""Watches: matches are recorded for papers an ingest adds (never for papers already indexed), the
report cites them, and the report is e-mailed through a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

import json

import pytest

from assistant.app import Assistant
from assistant.cli import main
from assistant.watches import Match, report_text, send_report, threshold
from conftest import free_port

pytestmark = pytest.mark.slow

PLAYGROUND = ("The cabinet approved £250,000 to replace unsafe playground equipment in six parks. Inspections "
              "found broken swings and worn safety surfacing under climbing frames in children's play areas.")
TAX = ("Council tax for a Band D property will rise by 4.99 per cent from April. The precept for the fire "
       "authority is set separately by the combined authority.")
OLD_PLAYGROUND = ("Play area inspections last year found broken swings and unsafe playground equipment in "
                  "several parks; replacement of the worst was approved.")


def write(folder, name, date, title, text):
    (folder / name).write_text(text, encoding="utf-8")
    manifest = folder / "manifest.toml"
    old = manifest.read_text(encoding="utf-8") if manifest.exists() else ""
    manifest.write_text(old + f'[documents."{name}"]\ntitle = "{title}"\ndate = "{date}"\ndoc_type = "report"\n'
                        f'committee = "Cabinet"\n\n', encoding="utf-8")


def test_a_watch_matches_a_paper_added_later_and_not_one_already_indexed(tmp_path, make_settings, capsys,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write(corpus, "old-play.txt", "2025-06-01", "Play areas 2025", OLD_PLAYGROUND)
    settings = make_settings(corpus_dir=corpus)
    assistant = Assistant(settings)
    assistant.ingest([corpus])
    index_args = ["--index", str(settings.index_dir)]
    assert main([*index_args, "watch", "add", "unsafe playground equipment in parks", "--name", "play"]) == 0
    assert main([*index_args, "watch", "add", "library opening hours", "--name", "libraries"]) == 0
    write(corpus, "play.txt", "2026-02-10", "Playground renewal", PLAYGROUND)
    write(corpus, "tax.txt", "2026-02-12", "Council tax 2026/27", TAX)
    report = assistant.ingest([corpus])
    assert sorted(report.added) == ["corpus/play.txt", "corpus/tax.txt"]
    capsys.readouterr()
    assert main([*index_args, "watch", "report", "--json"]) == 0
    matches = json.loads(capsys.readouterr().out)["matches"]
    assert [(m["watch"], m["title"]) for m in matches] == [("play", "Playground renewal")]
    assert matches[0]["score"] >= threshold() and matches[0]["date"] == "2026-02-10"
    assert matches[0]["committee"] == "Cabinet" and "playground" in matches[0]["quote"]
    # the report cites, and --new reports each match once
    assert main([*index_args, "watch", "report", "--new"]) == 0
    text = capsys.readouterr().out
    assert "Watch: play" in text and "[1] Playground renewal (2026-02-10, report, Cabinet)" in text
    assert main([*index_args, "watch", "report", "--new"]) == 0
    assert "No new papers" in capsys.readouterr().out
    # an unchanged re-ingest adds nothing and records nothing
    assistant.ingest([corpus])
    assert main([*index_args, "watch", "list"]) == 0
    assert "play: 'unsafe playground equipment in parks' (since" in capsys.readouterr().out


def test_the_report_is_emailed_through_an_smtp_server_on_loopback(make_settings):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_sender="assistant@example.org",
                                 smtp_recipients="officer@example.org; clerk@example.org")
        match = Match("play", "play", "Playground renewal", "2026-02-10", "report", "Cabinet",
                      "https://democracy.example.org/mgConvert2PDF.aspx?ID=1", None, PLAYGROUND[:80], 0.71,
                      "2026-02-11T09:00:00")
        send_report(settings, report_text([match]))
    finally:
        controller.stop()
    assert len(received) == 1
    message = received[0]
    assert message["To"] == "officer@example.org, clerk@example.org"
    assert "[1] Playground renewal (2026-02-10, report, Cabinet)" in message.get_payload(decode=True).decode()


def test_a_watch_can_belong_to_a_user(tmp_path, capsys):
    index_args = ["--index", str(tmp_path / "index")]
    assert main([*index_args, "watch", "add", "playground equipment", "--name", "play", "--user", "clerk"]) == 0
    assert main([*index_args, "watch", "add", "council tax", "--name", "tax"]) == 0
    capsys.readouterr()
    assert main([*index_args, "watch", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "user=clerk" in listed[0] and "user=" not in listed[1]
