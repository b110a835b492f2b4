"""A meeting on a phone, end to end: a councillor asks ten questions at 390 x 844 (touch), the Wi-Fi
drops while the sixth is asked (it is kept, with a note, and answered once back online), the page is
reloaded after the eighth (every turn comes back with its own sources; an early turn's citation opens
its paper and Back returns to the conversation), and two more questions follow. After every answer the
newest one is on screen and not covered, the turns are all there, and nothing is wider than the screen.

The questions are the UI's own examples and the seed eval questions (eval/questions.jsonl), never
answers written here; the fake encoder serves them (the meeting's flow, not answer quality, is under
test). Chromium is Debian's, as in the other browser tests; screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from assistant.ui_actions import EXAMPLE_QUESTIONS
from tests.test_ui import ANSWER_TIMEOUT, shot

PHONE = {"width": 390, "height": 844}
EVAL_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"
OFFLINE_TURN, RELOAD_AFTER = 6, 8


def meeting_questions() -> list[str]:
    """Ten questions: the UI's examples, then the seed eval file's dev questions in file order."""
    seed = [json.loads(line) for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev = [q["question"] for q in seed if q.get("split") == "dev" and q["question"] not in EXAMPLE_QUESTIONS]
    return (list(EXAMPLE_QUESTIONS) + dev)[:10]


# The newest turn's reply (its live region): its centre on screen, and the element drawn there its own.
NEWEST_REPLY = """() => {
    const turns = document.querySelectorAll('#ca-conversation .ca-turn');
    const reply = turns[turns.length - 1].querySelector('.ca-reply');
    const r = reply.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {inside: !!hit && reply.contains(hit), x, y, top: r.top, bottom: r.bottom,
            height: window.innerHeight, width: window.innerWidth, over: hit ? hit.outerHTML.slice(0, 120) : null};
}"""
ANSWERED = ("() => { const t = document.querySelectorAll('#ca-conversation .ca-turn');"
            " return t.length == {n} && !t[t.length - 1].querySelector('[aria-busy=true]')"
            " && document.querySelector('#ca-conversation [aria-busy=false]'); }")
TURNS_SHOWN = """() => [...document.querySelectorAll('#ca-conversation .ca-turn')].map(turn => ({
    question: turn.querySelector('.ca-question') ? turn.querySelector('.ca-question').lastChild.textContent.trim() : '',
    cites: [...turn.querySelectorAll('.ca-reply button.ca-cite')].map(b => b.dataset.doc + ':' + b.dataset.start)}))"""
SOURCE_GROUPS = """() => [...document.querySelectorAll('#ca-sources .ca-source-group')].map(group => ({
    summary: group.querySelector('summary').textContent,
    cites: [...group.querySelectorAll('.ca-card h3 button.ca-cite')].map(b => b.dataset.doc + ':' + b.dataset.start)}))"""
SELECTED_TAB = "() => (document.querySelector('button[role=tab][aria-selected=true]') || {dataset: {}}).dataset.tabId"


@pytest.fixture(scope="module")
def meeting_url(corpus_assistant, serve_app):
    return serve_app(corpus_assistant).local_url


@pytest.fixture
def phone(open_app, meeting_url):
    return open_app(meeting_url, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1)


def type_question(page, question: str) -> None:
    page.locator("#ca-question textarea").tap()
    page.fill("#ca-question textarea", question)
    page.press("#ca-question textarea", "Enter")


def wait_answered(page, turns: int) -> None:
    page.wait_for_function(ANSWERED.replace("{n}", str(turns)), timeout=ANSWER_TIMEOUT)


def check_screen(page, turns: int) -> None:
    """After answer `turns`: that many turns, the newest reply on screen and uncovered, no sideways scroll."""
    assert page.locator("#ca-conversation .ca-turn").count() == turns
    page.wait_for_timeout(300)  # the scroll to the newest turn runs on the next animation frame
    shown = page.evaluate(NEWEST_REPLY)
    assert 0 <= shown["y"] < shown["height"] and 0 <= shown["x"] < shown["width"], (turns, shown)
    assert shown["inside"], f"answer {turns} is covered or off screen: {shown}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], turns


def ask(page, question: str, turns: int) -> None:
    type_question(page, question)
    wait_answered(page, turns)
    check_screen(page, turns)


@pytest.mark.slow
@pytest.mark.browser
def test_browser_a_ten_question_meeting_on_a_phone_survives_wifi_loss_and_a_reload(phone, corpus_assistant):
    questions = meeting_questions()
    assert len(questions) == 10 and len(set(questions)) == 10
    context = phone.context

    for turn, question in enumerate(questions[:OFFLINE_TURN - 1], start=1):
        ask(phone, question, turn)

    # The Wi-Fi drops while question 6 is asked: it stays in the box with a note, and nothing is lost.
    context.set_offline(True)
    type_question(phone, questions[OFFLINE_TURN - 1])
    note = phone.locator("#ca-offline [role=status]")
    note.wait_for(state="visible")
    assert "will be sent when you are back online" in note.inner_text()
    assert phone.input_value("#ca-question textarea") == questions[OFFLINE_TURN - 1]
    phone.wait_for_timeout(500)
    assert phone.locator("#ca-conversation .ca-turn").count() == OFFLINE_TURN - 1
    shot(phone, "meeting-phone-offline", full_page=False)
    context.set_offline(False)
    wait_answered(phone, OFFLINE_TURN)
    check_screen(phone, OFFLINE_TURN)
    assert not note.is_visible()
    assert phone.locator("#ca-conversation .ca-turn").nth(OFFLINE_TURN - 1).locator(".ca-question").inner_text() \
        .endswith(questions[OFFLINE_TURN - 1])

    for turn in range(OFFLINE_TURN + 1, RELOAD_AFTER + 1):
        ask(phone, questions[turn - 1], turn)

    # A reload: every turn comes back, in order, each with the same citations and its own sources.
    before = phone.evaluate(TURNS_SHOWN)
    assert [t["question"] for t in before] == questions[:RELOAD_AFTER]
    phone.reload()
    phone.wait_for_selector("#ca-question textarea")
    wait_answered(phone, RELOAD_AFTER)
    phone.wait_for_function(f"() => document.querySelectorAll('#ca-sources .ca-source-group').length == {RELOAD_AFTER}")
    assert phone.evaluate(TURNS_SHOWN) == before
    check_screen(phone, RELOAD_AFTER)
    groups = phone.evaluate(SOURCE_GROUPS)
    for number, (turn, group) in enumerate(zip(before, groups), start=1):
        assert f"Question {number}" in group["summary"] and turn["question"] in group["summary"], (number, group)
        assert set(turn["cites"]) <= set(group["cites"]), (number, turn, group)

    # An early answer's citation opens its own paper at the quoted passage; Back returns to the meeting.
    early = next(i for i, t in enumerate(before) if t["cites"])
    assert early < OFFLINE_TURN - 1, "an answer before the Wi-Fi loss should cite a paper"
    cite = phone.locator("#ca-conversation .ca-turn").nth(early).locator(".ca-reply button.ca-cite").first
    doc_id, start, end = (cite.get_attribute(f"data-{k}") for k in ("doc", "start", "end"))
    cite.tap()
    hit = phone.locator("#ca-document #ca-hit")
    hit.wait_for(state="visible")
    phone.wait_for_url(re.compile(r"#doc="))
    assert f"#doc={quote(doc_id)}&start={start}&end={end}" in phone.url
    document = corpus_assistant.document(doc_id)
    assert phone.inner_text("#ca-document h2").strip() == document.meta.title
    assert " ".join(hit.inner_text().split()) == " ".join(document.text[int(start):int(end)].split())
    phone.go_back()
    phone.wait_for_function(f"() => ({SELECTED_TAB})() === 'chat'")
    assert "#doc=" not in phone.url
    assert phone.evaluate(TURNS_SHOWN) == before

    for turn in range(RELOAD_AFTER + 1, 11):
        ask(phone, questions[turn - 1], turn)
    assert [t["question"] for t in phone.evaluate(TURNS_SHOWN)] == questions
    assert len(phone.evaluate(SOURCE_GROUPS)) == 10
    shot(phone, "meeting-phone-ten-turns", full_page=False)
