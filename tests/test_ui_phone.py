"""Search and Library on a phone (390 x 844) and on a desktop (1366 x 900): cards with the title, the
date in words, the type in words, committee, page and passage below 700 px, the table above; filters
that fit the screen; the "Filtered" wording and UK dates in the search filters.

The browser tests drive Debian's Chromium over the bundled corpus with the fake encoder (the layout,
not answer quality, is under test) and save screenshots to tests/artifacts/.
"""
from __future__ import annotations

import dataclasses
import re

import pytest

from assistant import ui_results
from assistant.types import Chunk, DocumentMeta, Passage
from tests.test_ui import SCRIPT, app_url, shot  # noqa: F401  (app_url: a fixture)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
WORD_DATE = re.compile(r"^(about )?\d{1,2} [A-Z][a-z]{2} \d{4}$|^about [A-Z][a-z]+ \d{4}$")
SLUG = re.compile(r"\b[a-z]+-[a-z]+(-[a-z]+)*\b")

META = DocumentMeta(doc_id="doc-1", title=f"Minutes {SCRIPT}", date="2022-05-01", doc_type="cabinet-member-update",
                    council="A Council", committee="Audit & Governance", source="corpus/minutes.txt",
                    date_note="not dated; the month of the meeting it reports")


def passage(text: str = "The board met. " * 40, page: int | None = 3) -> Passage:
    return Passage(chunk=Chunk(doc_id="doc-1", ord=0, text=text, start=120, end=120 + len(text), page=page),
                   meta=META, score=0.81, rank=1)


# --- pure builders --------------------------------------------------------------------------------

def test_search_cards_show_words_not_slugs_and_escape_every_part():
    cards = ui_results.search_cards_html([passage()])
    assert "<script" not in cards and "&lt;script&gt;" in cards
    assert "Cabinet member update" in cards and "cabinet-member-update" not in cards
    assert "Audit &amp; Governance" in cards and "page 3" in cards
    assert "corpus/" not in cards and "2022-05-01" not in cards
    assert 'data-doc="doc-1" data-start="120"' in cards
    shown = re.search(r'<p class="ca-passage">(.*?)</p>', cards).group(1)
    assert len(shown) <= ui_results.CARD_PASSAGE_CHARS + 1 and shown.endswith("The…") and " ".join(("The board met. " * 40).split()).startswith(shown[:-1])
    estimate = re.search(r'<details class="ca-estimate"><summary class="ca-estimated" title="([^"]*)">([^<]*)</summary>',
                         cards)
    assert estimate and estimate.group(2) == "about May 2022"
    assert estimate.group(1) == "Estimated date: not dated; the month of the meeting it reports"
    dated = ui_results.search_cards_html([dataclasses.replace(passage(page=None),
                                                           meta=dataclasses.replace(META, date="2021-09-28", date_note=None))])
    assert '<span class="ca-date">28 Sep 2021</span>' in dated and "page " not in dated and "<details" not in dated


def test_library_cards_and_rows_name_each_paper_in_words_without_ids():
    documents = [(META, 12), (dataclasses.replace(META, doc_id="doc-2", inferred=("committee",)), 1)]
    cards = ui_results.library_cards_html(documents)
    assert cards.count('class="ca-card ca-result-card"') == 2 and "12 passages" in cards and "1 passage<" in cards
    assert "Audit &amp; Governance (inferred)" in cards and "<script" not in cards
    assert ui_results.LIBRARY_HEADERS == ["Title", "Date", "Type", "Committee", "Passages"]
    row = ui_results.library_rows(documents)[0]
    assert row[0] == META.title and row[2:] == ["Cabinet member update", "Audit & Governance", 12]
    assert row[1] == ('<span class="ca-estimated" title="Estimated date: not dated; the month of the meeting it '
                      'reports">about May 2022</span>')
    capped = ui_results.library_cards_html(documents * 3, limit=4)
    assert capped.count("ca-result-card\"") == 4 and "The first 4 of 6 papers" in capped


# --- a real browser -------------------------------------------------------------------------------

@pytest.fixture
def phone(open_app, app_url):  # noqa: F811
    return open_app(app_url, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1)


@pytest.fixture
def desktop(open_app, app_url):  # noqa: F811
    return open_app(app_url, viewport=DESKTOP)


def search(page, query: str, since: str = "", until: str = "") -> None:
    page.get_by_role("tab", name="Search").click()
    page.fill("#ca-search-since input", since)
    page.fill("#ca-search-until input", until)
    page.fill("#ca-query textarea", query)
    page.click("#ca-search")
    page.wait_for_selector("#ca-download", state="visible")


def inside_width(page, selector: str, width: int) -> list[tuple[float, float]]:
    """(left, right) of each visible element matching `selector` that is not wholly inside 0..`width`."""
    return page.locator(selector).evaluate_all(
        f"""(els) => els.filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect())
                       .filter(r => r.left < 0 || r.right > {width}).map(r => [r.left, r.right])""")


@pytest.mark.browser
def test_phone_search_shows_cards_that_fit_the_screen_and_open_the_paper(phone):
    search(phone, "Improvement Board", since="1/9/2021", until="31/12/2022")
    cards = phone.locator("#ca-search-cards .ca-result-card")
    cards.first.wait_for(state="visible")
    assert cards.count() == 5 and not phone.locator("#ca-results").is_visible()
    for i in range(5):
        card = cards.nth(i)
        title, date = card.locator("h3"), card.locator(".ca-card-meta > :first-child")
        assert title.is_visible() and title.inner_text().strip()
        assert WORD_DATE.match(date.inner_text().strip()), date.inner_text()
        meta = card.locator(".ca-card-meta").inner_text()
        assert ("Cabinet member update" in meta or "Press release" in meta) and not SLUG.search(meta), meta
        assert card.locator(".ca-passage").inner_text().strip()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not inside_width(phone, "#ca-search-cards .ca-result-card, #ca-search-cards h3, .ca-card-meta", PHONE["width"])
    status = phone.inner_text(".ca-status")
    assert "Filtered: only papers dated 1 Sep 2021 to 31 Dec 2022 were searched." in status
    assert "not a date" not in status
    shot(phone, "phone-search")

    title = cards.first.locator("h3").inner_text().strip()
    cards.first.locator("button.ca-card-title").tap()
    phone.locator("#ca-document #ca-hit").wait_for(state="visible")
    assert title in phone.inner_text("#ca-document h2")


@pytest.mark.browser
def test_phone_filter_and_date_fields_are_inside_the_viewport(phone):
    search(phone, "foster carers", since="31/12/2021")
    phone.locator("#ca-search-cards .ca-result-card").first.wait_for(state="visible")
    fields = "#ca-search-since input, #ca-search-until input, #ca-query textarea, #ca-search, #ca-search-since label"
    boxes = phone.locator(fields).evaluate_all("(els) => els.map(e => e.getBoundingClientRect().width)")
    assert len(boxes) >= 4 and all(w >= 100 for w in boxes[:2]), boxes
    assert not inside_width(phone, fields, PHONE["width"])
    assert not inside_width(phone, "#ca-search-cards, #ca-download, [data-testid=checkbox-group] label", PHONE["width"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "Filtered: only papers dated from 31 Dec 2021 were searched." in phone.inner_text(".ca-status")

    phone.get_by_role("tab", name="Chat").click()
    phone.get_by_text("Filters: dates and types of paper").click()
    chat_fields = "#ca-chat-since input, #ca-chat-until input"
    phone.locator(chat_fields).last.wait_for(state="visible")
    assert phone.locator(chat_fields).count() == 2 and not inside_width(phone, chat_fields, PHONE["width"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.browser
def test_desktop_search_shows_the_table_with_filtered_wording(desktop):
    search(desktop, "Improvement Board", since="01/09/2021")
    rows = desktop.locator("#ca-results [role=row].virtual-row")
    rows.first.wait_for(state="visible")
    assert rows.count() == 5 and not desktop.locator("#ca-search-cards").is_visible()
    headers = desktop.locator("#ca-results thead th").all_inner_texts()
    assert [h.strip() for h in headers if h.strip()][:4] == ["Rank", "Title", "Date", "Type"], headers
    assert WORD_DATE.match(desktop.inner_text("#ca-results [data-testid=cell-0-2]").strip())
    assert "Filtered: only papers dated from 1 Sep 2021 were searched." in desktop.inner_text(".ca-status")
    assert desktop.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]


@pytest.mark.browser
def test_library_is_cards_on_a_phone_and_a_table_on_a_desktop(phone, corpus_assistant):
    documents = corpus_assistant.documents()
    phone.get_by_role("tab", name="Library").click()
    cards = phone.locator("#ca-library-cards .ca-result-card")
    cards.first.wait_for(state="visible")
    assert cards.count() == len(documents) and not phone.locator("#ca-library").is_visible()
    for i in range(cards.count()):
        meta = cards.nth(i).locator(".ca-card-meta").inner_text()
        assert cards.nth(i).locator("h3").is_visible()
        assert "passage" in meta and not SLUG.search(meta) and not re.search(r"\d{4}-\d\d-\d\d", meta), meta
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not inside_width(phone, "#ca-library-cards .ca-result-card", PHONE["width"])

    estimate = phone.locator("#ca-library-cards .ca-estimate").first
    note = estimate.locator(".ca-estimate-note")
    assert estimate.locator("summary").inner_text().startswith("about ") and not note.is_visible()
    estimate.locator("summary").tap()
    note.wait_for(state="visible")
    assert note.inner_text().startswith("Estimated date: ")
    assert not inside_width(phone, "#ca-library-cards .ca-estimate-note", PHONE["width"])
    shot(phone, "phone-library")

    title = cards.nth(2).locator("h3").inner_text().strip()
    cards.nth(2).locator("button.ca-card-title").tap()
    phone.locator("#ca-document .ca-doc-text").wait_for(state="visible")
    assert title.removesuffix(" (inferred)") in phone.inner_text("#ca-document h2")

    phone.set_viewport_size(DESKTOP)
    phone.get_by_role("tab", name="Library").click()
    rows = phone.locator("#ca-library [role=row].virtual-row")
    rows.first.wait_for(state="visible")
    assert rows.count() == len(documents) and not phone.locator("#ca-library-cards").is_visible()
    assert "doc_id" not in phone.inner_text("#ca-library")


@pytest.mark.browser
def test_desktop_tables_show_an_estimated_date_with_its_reason_on_hover(desktop):
    desktop.get_by_role("tab", name="Library").click()
    desktop.locator("#ca-library [role=row].virtual-row").first.wait_for(state="visible")
    estimated = desktop.locator("#ca-library [role=gridcell] .ca-estimated").first
    assert estimated.inner_text() == "about May 2022"
    assert (estimated.get_attribute("title") or "").startswith("Estimated date: ")
    search(desktop, "Ofsted inadequate rating")
    desktop.locator("#ca-results [role=row].virtual-row").first.wait_for(state="visible")
    dates = desktop.locator("#ca-results [role=gridcell] .ca-estimated")
    assert dates.count() >= 1 and (dates.first.get_attribute("title") or "").startswith("Estimated date: ")
