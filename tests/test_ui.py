"""The browser app: pure HTML builders, the JSON API through gradio_client, and a real Chromium.

Browser tests drive Debian's Chromium (/usr/bin/chromium, installed by `make browser`) with
Playwright and save screenshots to tests/artifacts/.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import re
import shutil
import socket
from pathlib import Path

import pytest

from assistant import export, ui, ui_actions, ui_html
from assistant.errors import SettingsError
from assistant.types import Answer, Chunk, Citation, Document, DocumentMeta, Passage
from tests.conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[1]
FUNDING = "How much extra funding went into children's services in 2021/22?"
ANSWER_TIMEOUT = 120_000  # ms: the first answer loads the model, and the test machine is shared
SCRIPT = "<script>alert('x')</script>"

META = DocumentMeta(doc_id="doc-1", title=f"Minutes {SCRIPT}", date="2022-03-15", doc_type="minutes",
                    council="Sefton Council", source="https://example.org/a?b=1&c=<2>")


def citation(n: int = 1, quote: str = "the quote", passage: str = "before the quote after",
             passage_start: int = 100, meta: DocumentMeta = META) -> Citation:
    offset = passage.find(quote)
    start = passage_start + max(offset, 0)
    return Citation(n=n, meta=meta, page=None, quote=quote, start=start, end=start + len(quote), score=0.7,
                    passage=passage, passage_start=passage_start)


# --- pure builders --------------------------------------------------------------------------------

def test_highlight_marks_the_span_and_escapes_every_part():
    assert ui_html.highlight("a<b>cdef", 1, 4) == 'a<mark class="ca-mark">&lt;b&gt;</mark>cdef'
    assert ui_html.highlight("abc", -5, 99) == '<mark class="ca-mark">abc</mark>'
    assert ui_html.highlight("abc", 2, 1) == 'ab<mark class="ca-mark"></mark>c'


def test_passage_highlight_uses_the_citation_offsets():
    c = citation(quote="grew by £10 million", passage="Funding grew by £10 million in 2021/22.", passage_start=500)
    assert c.start - c.passage_start == 8
    assert ui_html.passage_html(c) == 'Funding <mark class="ca-mark">grew by £10 million</mark> in 2021/22.'
    shifted = dataclasses.replace(c, start=c.start + 3, end=c.end + 3)  # offsets off: found by the quote
    assert ui_html.passage_html(shifted) == ui_html.passage_html(c)
    bare = dataclasses.replace(c, passage="")
    assert ui_html.passage_html(bare) == '<mark class="ca-mark">grew by £10 million</mark>'


def test_question_quote_passage_and_titles_are_escaped():
    c = citation(quote=f"quoted {SCRIPT}", passage=f"Context <img src=x onerror=alert(1)> quoted {SCRIPT} end")
    answer = Answer(question=f"What about {SCRIPT}?", text=f"It says {SCRIPT} [1]", answered=True, citations=(c,))
    for page in (ui_html.conversation_html([answer]), ui_html.pending_turn_html(SCRIPT, 0),
                 ui_html.sources_html([answer]), ui_html.conversation_html([], pending=SCRIPT, notice=SCRIPT)):
        assert "<script" not in page and "<img" not in page
        assert "&lt;script&gt;" in page or "&lt;scr" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in ui_html.sources_html([answer])
    assert 'data-doc="doc-1"' in ui_html.conversation_html([answer])


def test_document_view_escapes_text_and_highlights_across_pages():
    text = "Page one <b>text</b>.Page two text.Page three."
    document = Document(meta=META, text=text, path="ignored.pdf", page_starts=(0, 21, 35))
    start, end = text.index("text</b>"), text.index("two") + 3
    view = ui_html.document_html(document, start, end)
    assert "<b>" not in view and "<script" not in view
    assert "&lt;b&gt;" in view and "&lt;script&gt;" in view
    assert [int(n) for n in re.findall(r'class="ca-page">Page (\d+)', view)] == [1, 2, 3]
    marks = re.findall(r"<mark[^>]*>(.*?)</mark>", view)
    assert "".join(marks) == "text&lt;/b&gt;.Page two"
    assert view.count('id="ca-hit"') == 1 and "on page 1" in view
    assert 'href="https://example.org/a?b=1&amp;c=&lt;2&gt;"' in view
    assert "ca-page" not in ui_html.document_html(dataclasses.replace(document, page_starts=()), start, end)


def test_answer_markers_become_buttons_to_their_sources():
    answer = Answer(question="q", text="First [1] second [2] stray [9]", answered=True,
                    citations=(citation(1), citation(2, quote="after")))
    html = ui_html.answer_text_html(answer)
    assert html.count('class="ca-cite"') == 2 and "stray [9]" in html
    assert 'data-doc="doc-1" data-start="107" data-end="116"' in html


def test_unanswered_turn_is_plain_with_possibly_related_sources():
    answer = Answer(question="Bins?", text="The indexed papers do not say.", answered=False,
                    citations=(citation(1),))
    turn = ui_html.turn_html(answer)
    assert "ca-unanswered" in turn and "Possibly related" in turn and "do not say" in turn
    assert "Possibly related" in ui_html.sources_html([answer]) and "ca-related-card" in ui_html.sources_html([answer])


def test_csv_export_guards_against_formulas(tmp_path):
    chunk = Chunk(doc_id="doc-1", ord=0, text="=HYPERLINK(\"http://x\")\n and more", start=5, end=40)
    path = export.write_search_csv([Passage(chunk=chunk, meta=META, score=0.5, rank=1)], tmp_path / "out.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert rows[0]["text"].startswith("'=HYPERLINK") and rows[0]["title"] == META.title
    assert export.csv_cell("-1") == "'-1" and export.csv_cell("plain") == "plain" and export.csv_cell(None) == ""


def test_login_is_on_only_when_both_settings_are_set():
    from assistant.users import Logins

    assert not Logins(None, None, None).required
    logins = Logins(None, "clerk", "s3cret")
    assert logins.required and logins.check("clerk", "s3cret").restricted
    assert logins.check("clerk", "wrong") is None and logins.check("other", "s3cret") is None
    with pytest.raises(SettingsError):
        Logins(None, "clerk", None)


def test_unexpected_errors_are_not_shown_to_users():
    from assistant.errors import QueryError

    assert ui_actions.friendly(QueryError("the question is empty")) == "The question is empty"
    assert ui_actions.friendly(RuntimeError("/srv/index/chunks.sqlite3: disk I/O error")) == ui_actions.UNEXPECTED


def test_cli_chat_serves_on_loopback_by_default():
    from assistant.cli import _parser

    args = _parser().parse_args(["chat"])
    assert (args.host, args.port) == ("127.0.0.1", 7860)


# --- the running app ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(assistant):
    app = ui.serve(assistant, port=free_port(), prevent_thread_lock=True, warm_up=False)
    return app, app.local_url


@pytest.fixture(scope="module")
def app_url(corpus_assistant):
    """The app over the corpus with the fake encoder: for the handlers and the API."""
    app, url = start(corpus_assistant)
    yield url
    app.close()


@pytest.fixture(scope="module")
def real_app_url(corpus_assistant_real):
    """The app over the corpus with the real model: for the browser tests, which read real answers."""
    app, url = start(corpus_assistant_real)
    yield url
    app.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_api_ask_returns_an_answer_with_citations(client):
    result = client.predict(FUNDING, api_name="/ask")
    assert result["answered"] is True and "£10 million" in result["answer"]
    assert result["citations"] and re.search(r"\[1\]", result["answer"])
    first = result["citations"][0]
    assert {"n", "doc_id", "title", "date", "doc_type", "page", "quote", "score", "start", "end"} <= set(first)
    document = client.predict(first["doc_id"], api_name="/document")
    assert document["text"][first["start"]:first["end"]] == first["quote"]


def test_api_search_returns_ranked_passages(client):
    result = client.predict("recruitment of social workers", 4, api_name="/search")
    ranks = [r["rank"] for r in result["results"]]
    scores = [r["score"] for r in result["results"]]
    assert ranks == [1, 2, 3, 4] and scores == sorted(scores, reverse=True)
    assert all(r["text"] and r["doc_id"] for r in result["results"])


def test_api_errors_are_friendly_not_tracebacks(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as empty:
        client.predict("   ", api_name="/ask")
    assert "question is empty" in str(empty.value) and "Traceback" not in str(empty.value)
    with pytest.raises(AppError) as unknown:
        client.predict("../../etc/passwd", api_name="/document")
    assert "no indexed document" in str(unknown.value)
    assert len(client.predict(api_name="/documents")) == 5


def test_no_url_reaches_the_papers_or_the_index_on_disk(app_url, corpus_assistant):
    from urllib.error import HTTPError
    from urllib.request import urlopen

    index = Path(corpus_assistant.settings.index_dir).resolve()
    files = [ROOT / "corpus" / "manifest.toml", next(f for f in index.rglob("*") if f.is_file()), Path("/etc/passwd")]
    for file in files:
        for route in ("gradio_api/file=", "file="):
            with pytest.raises(HTTPError) as refused:
                urlopen(f"{app_url}{route}{file}")
            assert refused.value.code in (403, 404), (route, file)


# --- a real browser -------------------------------------------------------------------------------

@pytest.fixture
def page(open_app, real_app_url):
    return open_app(real_app_url, accept_downloads=True)


def ask(page, question: str, turns: int = 1) -> None:
    """Ask in the chat box and wait until the answer (the `turns`-th) has finished streaming."""
    page.fill("#ca-question textarea", question)
    page.press("#ca-question textarea", "Enter")
    page.wait_for_function(f"() => document.querySelectorAll('#ca-conversation .ca-turn').length == {turns} && "
                           "document.querySelector('#ca-conversation [aria-busy=false]')", timeout=ANSWER_TIMEOUT)


def shot(page, name: str, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.mark.slow
@pytest.mark.browser
def test_browser_chat_answer_sources_document_view_and_follow_up(page):
    ask(page, FUNDING)
    answer = page.inner_text("#ca-conversation .ca-answer-text")
    assert "£10 million" in answer and "[1]" in answer
    card = page.locator("#ca-sources .ca-card").first
    assert "Press release" in card.inner_text() and "about May 2022" in card.inner_text()
    quoted = card.locator("mark").inner_text()
    assert "£10 million" in quoted
    page.wait_for_timeout(300)
    shot(page, "chat")

    page.locator("#ca-conversation .ca-answer-text button.ca-cite").first.click()
    hit = page.locator("#ca-document #ca-hit")
    hit.wait_for(state="visible")
    assert "£10 million" in hit.inner_text()
    page.wait_for_function("""() => {
        const hit = document.querySelector('#ca-document #ca-hit').getBoundingClientRect();
        const box = document.querySelector('#ca-document .ca-doc-text').getBoundingClientRect();
        return hit.top >= box.top - 1 && hit.top < box.bottom && hit.top < window.innerHeight;
    }""")
    shot(page, "document", full_page=False)

    page.click("#ca-back")
    page.wait_for_selector("#ca-question textarea", state="visible")
    ask(page, "and what about fostering?", turns=2)
    second = page.locator("#ca-conversation .ca-turn").nth(1).inner_text()
    assert ui_html.FOLLOW_UP_NOTE in second
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    shot(page, "chat-phone")

    page.click("#ca-new-chat")
    page.wait_for_selector("#ca-conversation [data-example]")
    assert page.locator("#ca-conversation .ca-turn").count() == 0


@pytest.mark.slow
@pytest.mark.browser
def test_browser_unanswered_question_and_empty_question(page):
    page.click("#ca-ask")
    notice = page.locator("#ca-conversation .ca-notice")
    notice.wait_for()
    assert "question is empty" in notice.inner_text()
    assert "Traceback" not in page.content()

    shot(page, "chat-empty-question", full_page=False)
    page.locator("#ca-conversation [data-example]").first.wait_for()
    ask(page, "What is the bin collection schedule for Bootle?")
    turn = page.inner_text("#ca-conversation .ca-unanswered")
    assert "do not say" in turn and "Possibly related" in turn
    assert "Possibly related" in page.inner_text("#ca-sources")
    shot(page, "chat-unanswered")


@pytest.mark.slow
@pytest.mark.browser
def test_browser_search_exports_csv_and_opens_results(page):
    page.get_by_role("tab", name="Search").click()
    page.fill("#ca-query textarea", "Improvement Board")
    page.click("#ca-search")
    page.wait_for_selector("#ca-download", state="visible", timeout=ANSWER_TIMEOUT)
    rows = page.locator("#ca-results [role=row].virtual-row")
    assert rows.count() == 5
    shown_titles = [page.inner_text(f"#ca-results [data-testid=cell-{i}-1]").strip() for i in range(5)]
    with page.expect_download() as download_info:
        page.click("#ca-download")
    download = download_info.value
    assert download.suggested_filename == "search-improvement-board.csv"
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(saved)
    exported = list(csv.DictReader(saved.open(encoding="utf-8-sig")))
    assert [r["rank"] for r in exported] == ["1", "2", "3", "4", "5"]
    assert [r["title"] for r in exported] == shown_titles
    assert all(r["text"] for r in exported)
    shot(page, "search")

    page.click("#ca-results [data-testid=cell-0-6]")
    page.locator("#ca-document #ca-hit").wait_for(state="visible")
    assert "Improvement Board" in page.inner_text("#ca-document .ca-doc-text")


@pytest.mark.slow
@pytest.mark.browser
def test_browser_library_lists_the_indexed_papers(page, corpus_assistant_real):
    page.get_by_role("tab", name="Library").click()
    rows = page.locator("#ca-library [role=row].virtual-row")
    rows.first.wait_for()
    documents = corpus_assistant_real.documents()
    assert rows.count() == len(documents)
    shot(page, "library")
    page.click("#ca-library [data-testid=cell-0-0]")
    page.locator("#ca-document .ca-doc-text").wait_for(state="visible")
    assert documents[0][0].title in page.inner_text("#ca-document h2")


@pytest.fixture(scope="module")
def auth_url(corpus_assistant):
    guarded = copy.copy(corpus_assistant)
    guarded.settings = dataclasses.replace(corpus_assistant.settings, ui_username="clerk",
                                           ui_password="correct horse")
    app, url = start(guarded)
    yield url
    app.close()


@pytest.mark.slow
@pytest.mark.browser
def test_browser_login_refuses_a_wrong_password_and_admits_the_right_one(open_app, auth_url):
    page = open_app(auth_url, drawn="input[type=password]")
    password = page.locator("input[type=password]")
    assert page.locator("#ca-question").count() == 0
    shot(page, "login")
    page.locator("input[type=text]").first.fill("clerk")
    password.fill("wrong")
    page.get_by_role("button", name=re.compile("login", re.IGNORECASE)).click()
    page.get_by_text(re.compile("incorrect", re.IGNORECASE)).wait_for()
    assert page.locator("#ca-question").count() == 0

    page.locator("input[type=text]").first.fill("clerk")
    password.fill("correct horse")
    page.get_by_role("button", name=re.compile("login", re.IGNORECASE)).click()
    page.wait_for_selector("#ca-question textarea")
    assert "Council papers assistant" in page.inner_text("body")


def test_short_answer_leads_the_turn_prominently_with_its_citation():
    from assistant.types import ShortAnswer

    text = "£10 million [1] — The council put in £10 million. [1]"
    answer = Answer(question="How much?", text=text, answered=True, citations=(citation(1),),
                    short_answer=ShortAnswer(text="£10 million", start=120, end=131, n=1))
    turn = ui_html.turn_html(answer)
    assert '<p class="ca-short">£10 million <button' in turn
    assert 'class="ca-answer-text">The council put in £10 million. <button' in turn
    plain = ui_html.turn_html(Answer(question="Why?", text="Because. [1]", answered=True, citations=(citation(1),)))
    assert "ca-short" not in plain.split("</style>")[-1] and "Because." in plain


NEWEST_ANSWER_SHOWN = """() => {
    const box = document.querySelector('#ca-conversation');
    const answers = box.querySelectorAll('.ca-answer');
    const last = answers[answers.length - 1].getBoundingClientRect();
    const input = document.querySelector('#ca-question textarea').getBoundingClientRect();
    const x = last.left + 30;
    const shownBottom = Math.min(last.bottom, box.getBoundingClientRect().bottom, input.top);
    const ys = [last.top + 4, shownBottom - 4];
    const hit = ys.map(y => answers[answers.length - 1].contains(document.elementFromPoint(x, y)));
    return {hit, top: last.top, inputTop: input.top, inputBottom: input.bottom,
            height: window.innerHeight, pageScroll: document.scrollingElement.scrollTop,
            boxScrolls: box.scrollHeight > box.clientHeight + 1};
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_browser_three_turns_keep_the_newest_answer_in_view_above_the_question_box(page):
    page.set_viewport_size({"width": 1366, "height": 900})
    questions = [FUNDING, "and what about fostering?", "Who is the DfE adviser working with the Improvement Board?"]
    for turn, question in enumerate(questions, start=1):
        ask(page, question, turns=turn)
    page.wait_for_timeout(500)
    shot(page, "chat-three-turns", full_page=False)
    shown = page.evaluate(NEWEST_ANSWER_SHOWN)
    assert shown["boxScrolls"], "the conversation should scroll inside its own box"
    assert shown["inputBottom"] <= shown["height"], "the question box should stay on screen"
    assert 0 <= shown["top"] < shown["inputTop"], shown
    assert all(shown["hit"]), f"the newest answer is covered or off screen: {shown}"


@pytest.mark.slow
@pytest.mark.browser
def test_browser_each_answer_keeps_its_own_sources(page):
    ask(page, FUNDING)
    ask(page, "Who is the DfE adviser working with the Improvement Board?", turns=2)
    groups = page.locator("#ca-sources .ca-source-group")
    assert groups.count() == 2
    for turn in range(2):
        answer_docs = page.locator("#ca-conversation .ca-turn").nth(turn).locator(
            ".ca-answer button.ca-cite").evaluate_all("(bs) => bs.map(b => [b.textContent, b.dataset.doc])")
        card_docs = groups.nth(turn).locator(".ca-card h3 button.ca-cite").evaluate_all(
            "(bs) => bs.map(b => [b.textContent, b.dataset.doc])")
        assert answer_docs and set(map(tuple, answer_docs)) <= set(map(tuple, card_docs)), (turn, answer_docs, card_docs)
    assert "Who is the DfE adviser" in groups.nth(1).inner_text()


@pytest.mark.slow
@pytest.mark.browser
def test_browser_shows_plain_words_not_internal_text(page):
    ask(page, FUNDING)
    ask(page, "and what about fostering?", turns=2)
    conversation = page.inner_text("#ca-conversation")
    assert "(about:" not in conversation and "Searched for" not in conversation
    assert "follow-up" in page.locator("#ca-conversation .ca-turn").nth(1).inner_text()
    sources = page.inner_text("#ca-sources")
    assert "Press release" in sources and "press-release" not in sources
    assert not re.search(r"\d{4}-\d\d-\d\d", sources), "dates are shown as words, not ISO"
    estimated = page.locator("#ca-sources .ca-estimated").first
    assert estimated.text_content() == "about May 2022"
    assert (estimated.get_attribute("title") or "").startswith("Estimated date: ")

    page.get_by_role("tab", name="Library").click()
    page.locator("#ca-library [role=row].virtual-row").first.wait_for()
    library = page.inner_text("#ca-library")
    assert "Cabinet member update" in library and "cabinet-member-update" not in library
    row = next(i for i in range(5) if "Cabinet member update" in page.inner_text(f"#ca-library [data-testid=cell-{i}-2]"))
    page.click(f"#ca-library [data-testid=cell-{row}-0]")
    view = page.locator("#ca-document .ca-doc")
    view.locator(".ca-doc-text").wait_for(state="visible")
    assert "corpus/" not in view.inner_text() and ".txt" not in view.inner_text()


@pytest.mark.slow
@pytest.mark.browser
def test_browser_filters_take_uk_dates_and_explain_a_wrong_one_in_plain_words(page):
    page.get_by_text("Filters: dates and types of paper").click()
    until = page.locator("#ca-chat-until").get_by_label("To")
    until.fill("31/12/2021")
    ask(page, FUNDING)
    turn = page.inner_text("#ca-conversation .ca-turn")
    assert "From the papers" in turn and "is not a date" not in turn
    assert not page.locator("#ca-conversation .ca-notice").count()
    assert "2022" not in page.inner_text("#ca-sources .ca-source-group[open]"), "only papers up to 2021"

    until.fill("31/13/2021")
    page.fill("#ca-question textarea", "and what about fostering?")
    page.press("#ca-question textarea", "Enter")
    notice = page.locator("#ca-conversation .ca-notice")
    notice.wait_for()
    assert "--until" not in notice.inner_text() and "YYYY" not in notice.inner_text()
    assert "“To” date" in notice.inner_text() and "31/12/2021" in notice.inner_text()


def test_filter_dates_are_read_day_first_or_iso_and_refused_in_plain_words():
    from assistant.errors import QueryError

    assert ui_actions.filter_date("31/12/2021", "To") == "2021-12-31"
    assert ui_actions.filter_date(" 1.9.2021 ", "From") == "2021-09-01"
    assert ui_actions.filter_date("2021-12-31", "To") == "2021-12-31"
    assert ui_actions.filter_date("", "To") is None and ui_actions.filter_date(None, "To") is None
    for wrong in ("31/13/2021", "12/31/2021", "yesterday", "2021-02-30"):
        with pytest.raises(QueryError) as refused:
            ui_actions.filter_date(wrong, "To")
        assert str(refused.value).startswith(f"The “To” date “{wrong}” is not a date")
        assert "--" not in str(refused.value) and "YYYY" not in str(refused.value)


@pytest.mark.slow
@pytest.mark.browser
def test_browser_a_reload_keeps_the_conversation_until_new_chat(page):
    ask(page, FUNDING)
    ask(page, "and what about fostering?", turns=2)
    before = page.inner_text("#ca-conversation")
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#ca-conversation .ca-turn').length == 2")
    assert page.inner_text("#ca-conversation") == before
    assert page.locator("#ca-sources .ca-source-group").count() == 2
    ask(page, "and when was it agreed?", turns=3)
    assert ui_html.FOLLOW_UP_NOTE in page.locator("#ca-conversation .ca-turn").nth(2).inner_text()

    page.click("#ca-new-chat")
    page.wait_for_selector("#ca-conversation [data-example]")
    page.reload()
    page.wait_for_selector("#ca-conversation [data-example]")
    page.wait_for_timeout(1000)
    assert page.locator("#ca-conversation .ca-turn").count() == 0


def test_a_stored_conversation_comes_back_whole_and_a_broken_one_not_at_all():
    import json

    from assistant.types import ShortAnswer

    items_meta = dataclasses.replace(META, ocr_pages=(2, 3), items=((0, "Item 1 Apologies"),), date_note="est.")
    answer = Answer(question="How much?", text="£10 million [1] — It grew. [1]", answered=True,
                    citations=(citation(1, meta=items_meta),), latency_ms=12.5, query="How much? (about: x)",
                    notes=("a note",), short_answer=ShortAnswer(text="£10 million", start=1, end=12, n=1))
    unanswered = Answer(question="Bins?", text="The papers do not say.", answered=False)
    stored = json.loads(json.dumps(ui_actions.stored_turns([answer, unanswered])))
    assert ui_actions.restored_turns(stored) == [answer, unanswered]
    assert ui_actions.restored_turns([{"question": "q"}]) == []
    assert ui_actions.restored_turns("not a list of turns") == [] and ui_actions.restored_turns(None) == []
    assert len(ui_actions.stored_turns([unanswered] * 60)) == ui_actions.KEPT_TURNS


CONTRAST = """(selector) => {
    const rgba = (text) => text.match(/[\\d.]+/g).map(Number);
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    const background = (el) => {
        for (; el; el = el.parentElement) {
            const c = rgba(getComputedStyle(el).backgroundColor);
            if (c.length < 4 || c[3] > 0.5) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    return [...document.querySelectorAll(selector)].filter(el => el.offsetParent !== null).map(el => {
        const a = luminance(rgba(getComputedStyle(el).color)), b = luminance(background(el));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    });
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_browser_text_contrast_and_citation_targets_meet_wcag_aa(page):
    ask(page, FUNDING)
    for selector in ("#ca-ask", "button[role=tab][aria-selected=true]", "footer a, footer button", ".ca-source-group > summary",
                     ".ca-label", ".ca-meta", "button.ca-cite", "#ca-new-chat"):
        ratios = page.evaluate(CONTRAST, selector)
        assert ratios and min(ratios) >= 4.5, (selector, ratios)
    sizes = page.locator("#ca-conversation button.ca-cite, #ca-sources button.ca-cite").evaluate_all(
        "(bs) => bs.map(b => { const r = b.getBoundingClientRect(); return [r.width, r.height]; })")
    assert sizes and all(w >= 24 and h >= 24 for w, h in sizes), sizes
    page.get_by_text("Filters: dates and types of paper").click()
    for label in ("From", "To"):  # the panel opens after the click: wait for the field before counting
        field = page.locator("#ca-chat-since, #ca-chat-until").get_by_label(label, exact=True)
        field.wait_for()
        assert field.count() == 1


@pytest.mark.slow
@pytest.mark.browser
def test_browser_active_filters_show_as_chips_with_the_panel_closed_and_answers_say_so(page):
    assert not page.locator("#ca-filter-chips .ca-chip").count()
    page.get_by_text("Filters: dates and types of paper").click()
    until = page.locator("#ca-chat-until").get_by_label("To")
    until.fill("31/12/2021")
    until.press("Tab")
    page.get_by_text("Filters: dates and types of paper").click()  # the panel closed again
    page.locator("#ca-chat-until").wait_for(state="hidden")
    chip = page.locator("#ca-filter-chips .ca-chip")
    chip.first.wait_for()
    assert chip.all_inner_texts() == ["To 31 Dec 2021"]
    ask(page, FUNDING)
    turn = page.inner_text("#ca-conversation .ca-turn")
    assert "Filtered: only papers dated up to 31 Dec 2021 were searched." in turn
    shot(page, "chat-filter-chips", full_page=False)
    page.click("#ca-filter-chips [data-clear-filters]")
    page.wait_for_function("() => !document.querySelector('#ca-filter-chips .ca-chip')")
    page.get_by_text("Filters: dates and types of paper").click()
    assert page.locator("#ca-chat-until").get_by_label("To").input_value() == ""
    ask(page, "and what about fostering?", turns=2)
    assert "Filtered" not in page.locator("#ca-conversation .ca-turn").nth(1).inner_text()


@pytest.mark.slow
def test_sigterm_removes_the_export_folder(corpus_assistant_real, tmp_path):
    """A real `council-assistant chat` process, stopped with SIGTERM as a service manager stops it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_ASSISTANT_")},
           "TMPDIR": str(temp), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(corpus_assistant_real.settings.index_dir),
                               "chat", "--port", str(free_port())], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:
            if "serving on" in line:
                break
        else:
            pytest.fail(f"the server did not start (exit {server.wait()})")
        folders = list(temp.glob("council-assistant-exports-*"))
        assert len(folders) == 1 and folders[0].is_dir()
        (folders[0] / "a").mkdir()
        (folders[0] / "a" / "search-x.csv").write_text("rank\n1\n", encoding="utf-8")
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not folders[0].exists(), "the export folder should be removed on SIGTERM"
