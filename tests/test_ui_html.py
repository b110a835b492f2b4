"""The browser app's pure HTML builders (assistant/ui_html.py): hostile text stays text, and every
citation marker becomes a button that carries exactly what opens its paper at the quoted span."""
from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from assistant import ui_html, ui_panels
from assistant.types import Answer, Citation, Document, DocumentMeta

HOSTILE = '"><img src=x onerror=alert(1)><script>alert("t")</script>'
HOSTILE_ID = 'doc" onclick="alert(1)'
META = DocumentMeta(doc_id=HOSTILE_ID, title=f"Minutes {HOSTILE}", date="2022-03-15", doc_type="minutes",
                    council=HOSTILE, committee=HOSTILE, source=f"https://example.org/?q={HOSTILE}")


class Tags(HTMLParser):
    """The start tags and attributes of an HTML fragment, as a browser's tokenizer reads them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def citation(n: int, meta: DocumentMeta = META, quote: str = "grew by £10 million") -> Citation:
    passage = f"Funding {quote} in 2021/22."
    return Citation(n=n, meta=meta, page=2, quote=quote, start=108, end=108 + len(quote), score=0.7,
                    passage=passage, passage_start=100)


def answer() -> Answer:
    return Answer(question=f"What about {HOSTILE}?", text=f"Funding grew [1] and {HOSTILE} [2] [9].",
                  answered=True, citations=(citation(1), citation(2)))


def every_builder_output() -> list[str]:
    document = Document(meta=META, text=f"Intro {HOSTILE} and more.", path="x.txt")
    return [ui_html.conversation_html([answer()]), ui_html.pending_turn_html(HOSTILE, 0),
            ui_html.conversation_html([], pending=HOSTILE, notice=HOSTILE, examples=[HOSTILE]),
            ui_html.sources_html([answer()]), ui_html.document_html(document, 6, 20),
            ui_html.header_html([(META, 3)]), ui_html.notice_html(HOSTILE),
            ui_html.turn_html(Answer(question=HOSTILE, text=HOSTILE, answered=False, citations=(citation(1),))),
            ui_html.meta_line(META, page=2, item=HOSTILE)]


def test_hostile_titles_questions_and_metadata_never_become_markup():
    for html in every_builder_output():
        tags = Tags(html).tags
        assert not [t for t, _ in tags if t in ("img", "script")], html
        assert not [a for _, attrs in tags for a in attrs if a.startswith("on")], html


def test_hostile_doc_id_stays_inside_its_data_attribute():
    tags = Tags(ui_html.sources_html([answer()])).tags
    cites = [attrs for tag, attrs in tags if tag == "button" and "data-doc" in attrs]
    assert cites and all(attrs["data-doc"] == HOSTILE_ID for attrs in cites)


def test_each_marker_becomes_a_button_naming_its_source_and_span():
    html = ui_html.answer_text_html(answer())
    buttons = [attrs for tag, attrs in Tags(html).tags if tag == "button"]
    assert [b["class"] for b in buttons] == ["ca-cite", "ca-cite"]
    assert all(b["type"] == "button" for b in buttons)
    assert [(b["data-start"], b["data-end"]) for b in buttons] == [("108", "127")] * 2
    assert buttons[0]["aria-label"] == f"Source 1: Minutes {HOSTILE}"
    assert re.findall(r">\[(\d+)\]</button>", html) == ["1", "2"]
    assert html.endswith("[9].")  # a marker with no citation behind it stays plain text


def test_the_sources_panel_has_a_card_per_citation_with_the_quote_marked():
    html = ui_html.sources_html([answer()])
    assert html.count('<article class="ca-card"') == 2
    assert html.count('<mark class="ca-mark">grew by £10 million</mark>') == 2
    assert ui_html.sources_html([Answer(question="q", text="no", answered=False)]).count("ca-card") == 0


def test_dates_types_and_sources_are_shown_in_plain_words():
    estimated = DocumentMeta(doc_id="d", title="t", date="2022-05-01", doc_type="press-release",
                             date_note="Undated: refers to the May report", source="corpus/2022-05-x.txt")
    assert ui_html.date_text("2021-09-28") == "28 Sep 2021" and ui_html.date_text(None) == "undated"
    assert ui_html.shown_date(estimated) == "about May 2022"
    assert ui_html.shown_date(DocumentMeta(doc_id="d", title="t", date="2021-08-26", date_note="week")) == "about 26 Aug 2021"
    assert ui_html.type_label("cabinet-member-update") == "Cabinet member update"
    line = ui_html.meta_line(estimated, page=3)
    assert line.startswith('<span class="ca-estimated" title="Estimated date: Undated: refers to the May report"')
    assert "Press release · page 3" in line and "press-release" not in line
    view = ui_html.document_html(Document(meta=estimated, text="Body.", path="corpus/2022-05-x.txt"))
    assert "corpus/" not in view and "Source:" not in view
    web = dataclasses.replace(estimated, source="https://example.org/p?a=1&b=2")
    assert '<a href="https://example.org/p?a=1&amp;b=2"' in ui_html.document_html(Document(meta=web, text="B.", path="x"))


def test_a_follow_up_says_so_without_the_internal_query():
    follow = Answer(question="and fostering?", text="It grew. [1]", answered=True, citations=(citation(1),),
                    query="and fostering? (about: How much funding? Social Workers)")
    turn = ui_html.turn_html(follow)
    assert ui_html.FOLLOW_UP_NOTE in turn and "about:" not in turn and "Social Workers" not in turn


def test_a_cited_page_gets_a_page_link_carrying_only_ids_and_numbers():
    card = ui_html.source_card_html(dataclasses.replace(citation(1), page=3))
    (_, link), = [(t, a) for t, a in Tags(card).tags if "ca-page-link" in (a.get("class") or "")]
    assert link["data-doc"] == HOSTILE_ID and link["data-page"] == "3"
    assert {"data-start", "data-end"} <= set(link) and not any("path" in name for name in link)
    assert "ca-page-link" not in ui_html.source_card_html(dataclasses.replace(citation(1), page=None))


def test_the_page_view_places_marks_in_percentages_over_an_escaped_image():
    from assistant.pages import PageImage

    image = PageImage(png=b"\x89PNG", width=800, height=1131, page=2, pages=5,
                      boxes=((0.1, 0.25, 0.5, 0.02),), located=True)
    view = ui_html.page_view_html(image, META.title)
    tags = Tags(view).tags
    (_, img), = [(t, a) for t, a in tags if t == "img"]
    assert img["src"].startswith("data:image/png;base64,") and img["alt"] == f"Page 2 of {META.title}"
    assert [a["style"] for t, a in tags if "ca-page-mark" in (a.get("class") or "")] == [
        "left:10.000%;top:25.000%;width:50.000%;height:2.000%"]
    assert "with the cited passage marked" in view and "<script" not in view
    unmarked = ui_html.page_view_html(dataclasses.replace(image, boxes=(), located=False, note="Not found <b>"), "t")
    assert "ca-page-mark" not in unmarked and "Not found &lt;b&gt;" in unmarked and "as printed" in unmarked
    document = Document(meta=META, text="Page one.Page two.", path="x.pdf", page_starts=(0, 9))
    assert '<div class="ca-doc-split"><figure' in ui_html.document_html(document, 9, 12, view)
    assert "ca-doc-split" not in ui_html.document_html(document, 9, 12)


def test_the_watches_panel_escapes_matches_and_a_user_sees_shared_and_own_watches():
    from assistant.watches import Match, Watch, visible_to

    shared, mine, theirs = (Watch("Play", "playgrounds", created="2026-01-05"),
                            Watch(HOSTILE, "swings", ("minutes",), "Cabinet", "2026-01-06", user="clerk"),
                            Watch("Tax", "council tax", user="other"))
    assert visible_to([shared, mine, theirs], "clerk", everyone=False) == [shared, mine]
    assert visible_to([shared, mine, theirs], None, everyone=False) == [shared]
    assert visible_to([shared, mine, theirs], None, everyone=True) == [shared, mine, theirs]
    match = Match(HOSTILE, HOSTILE_ID, META.title, "2026-02-10", "report", None, None, 4,
                  f"The swings {HOSTILE} were replaced…", 0.7, "2026-02-11T09:00:00")
    text = f"Before.\nThe swings  {HOSTILE}\nwere replaced in May."
    span = ui_panels.quote_span(text, match.quote)
    assert span and text[span[0]:span[1]] == f"The swings  {HOSTILE}\nwere replaced"
    assert ui_panels.quote_span(text, "not in the text") is None
    view = ui_panels.watches_html([(mine, [(match, span)]), (shared, [])], signed_in="clerk")
    assert "<script" not in view and "<img" not in view
    (_, button), = [(t, a) for t, a in Tags(view).tags if "ca-open" in (a.get("class") or "")]
    assert button["data-doc"] == HOSTILE_ID and (int(button["data-start"]), int(button["data-end"])) == span
    assert "page 4" in view and "found 11 Feb 2026" in view and "Minutes" in view and "set for clerk" in view
    assert "No new papers have matched this watch yet." in view
    assert "No watches yet" in ui_panels.watches_html([])


def test_active_filters_read_as_words_in_chips_and_in_the_answer_note():
    assert ui_panels.filter_words("2021-09-01", "2021-12-31", ["press-release"]) == [
        "From 1 Sep 2021", "To 31 Dec 2021", "Press release"]
    assert ui_panels.filter_note(None, "2021-12-31", ()) == "Filtered: only papers dated up to 31 Dec 2021 were searched."
    assert ui_panels.filter_note("2021-09-01", "2021-12-31", ["minutes", "cabinet-member-update"]) == (
        "Filtered: only papers dated 1 Sep 2021 to 31 Dec 2021 of these types: Minutes, Cabinet member update "
        "were searched.")
    assert ui_panels.filter_note(None, None, ()) is None
    chips = ui_panels.filter_chips_html(["To 31 Dec 2021", HOSTILE], problem="“From” date “x” not understood")
    assert chips.count('<span class="ca-chip') == 3 and "<script" not in chips and "data-clear-filters" in chips
    assert "hidden" in ui_panels.filter_chips_html([]) and "ca-chip\"" not in ui_panels.filter_chips_html([])
