"""The original page in the browser: a source card's "page N" link opens the cited page of a PDF
beside its text, with the quoted passage marked on the page image (real PDFs from reportlab, a real
index, Debian's Chromium)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, make_pdf
from tests.test_ui import ask

ROOT = Path(__file__).resolve().parents[1]
QUOTE_LINE = "The Improvement Board agreed a grant of 25,000 pounds for foster carers."
PAGE_TWO = ["Minutes of the meeting, continued.", "Item 4 Foster carers", QUOTE_LINE, "Carried unanimously."]
A4_HEIGHT = 841.89


@pytest.fixture(scope="module")
def pdf_app(tmp_path_factory, embedder, serve_app):
    from assistant.app import Assistant
    from assistant.settings import Settings

    folder = tmp_path_factory.mktemp("pdf-papers")
    make_pdf(folder / "board-minutes.pdf", ["Minutes of the Improvement Board, 3 March 2022.\n"
                                            "Present: the chair and four members.", "\n".join(PAGE_TWO)])
    make_pdf(folder / "budget.pdf", ["The library budget for 2022 is 40,000 pounds.\nAgreed by the cabinet."])
    assistant = Assistant(Settings.load(env={}, index_dir=tmp_path_factory.mktemp("pdf-index"), progress=False))
    assistant.embedder = embedder
    assert not assistant.ingest([folder]).failed
    return serve_app(assistant).local_url


@pytest.fixture
def pdf_page(open_app, pdf_app):
    return open_app(pdf_app, viewport={"width": 1366, "height": 900})


MARKS_ON_IMAGE = """() => {
    const img = document.querySelector('#ca-document .ca-page-image img');
    const box = img.getBoundingClientRect();
    return {loaded: img.complete && img.naturalWidth > 0, width: box.width,
            marks: [...document.querySelectorAll('#ca-document .ca-page-mark')].map(m => {
                const r = m.getBoundingClientRect();
                const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                return {inside: r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1
                                && r.bottom <= box.bottom + 1,
                        bottom: (r.bottom - box.top) / box.height, visible: r.width > 20 && r.height > 4,
                        over: hit === img || img.parentElement.contains(hit)};
            })};
}"""


@pytest.mark.slow
@pytest.mark.browser
def test_browser_page_link_opens_the_original_page_with_the_quote_marked(pdf_page):
    page = pdf_page
    ask(page, "How much was the grant for foster carers?")
    link = page.locator("#ca-sources .ca-source-group[open] .ca-page-link").first
    assert link.inner_text() == "page 2"
    link.click()
    page.locator("#ca-document .ca-page-image img").wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#ca-document .ca-page-image img').complete")
    shown = page.evaluate(MARKS_ON_IMAGE)
    assert shown["loaded"] and shown["width"] > 300, shown
    assert len(shown["marks"]) == 1, shown
    mark, = shown["marks"]
    assert mark["inside"] and mark["visible"] and mark["over"], mark
    baseline = 760 - 16 * PAGE_TWO.index(QUOTE_LINE)  # make_pdf draws line i at y = 760 - 16 i
    assert abs(mark["bottom"] - (A4_HEIGHT - baseline) / A4_HEIGHT) < 0.015, mark
    assert "Page 2 of 2, with the cited passage marked" in page.inner_text("#ca-document .ca-page-view")
    assert "25,000" in page.inner_text("#ca-document #ca-hit"), "the text view still highlights the quote"
    page.evaluate("() => document.querySelector('#ca-document h2').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "page-view.png"))
    page.screenshot(path=str(ROOT / "docs" / "screenshot-page-view.png"))


@pytest.mark.slow
@pytest.mark.browser
def test_browser_page_view_says_so_when_the_page_cannot_be_shown(pdf_page):
    page = pdf_page
    ask(page, "How much was the grant for foster carers?")
    link = page.locator("#ca-sources .ca-source-group[open] .ca-page-link").first
    link.evaluate("(b) => { b.dataset.page = '9'; }")  # as a tampered page would send it
    link.click()
    notice = page.locator("#ca-document .ca-page-view .ca-notice")
    notice.wait_for()
    assert "has 2 pages, not a page 9" in notice.inner_text()
    assert page.locator("#ca-document .ca-doc-text").is_visible()
