"""Pure HTML builders for the browser app: domain objects in, escaped HTML or table rows out.

No Gradio here, so every builder is testable as a plain function. Every piece of document or question
text is escaped before it becomes HTML; a citation becomes a button whose data attributes
(`cite_attrs`) the panel script (static/panel.js) turns into an "open this document at this span" event.
"""
from __future__ import annotations

import html
import re
from typing import Sequence

from .export import MARKDOWN_HEAD, answer_text, turn_markdown
from .pages import PageImage
from .types import OCR_NOTE, Answer, Citation, Document, DocumentMeta
from .wording import date_text, shown_date, type_label

TITLE = "Council papers assistant"

_WEB = re.compile(r"https?://", re.IGNORECASE)  # a source shown to users; a local file path never is
_MARKER = re.compile(r"\[(\d+)\]")
_MARKER_GROUP = re.compile(r" ?\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_PARTIAL_MARKER = re.compile(r" ?\[[\d\s,;]*$")
_esc = html.escape
FOLLOW_UP_NOTE = "Read as a follow-up to the questions before it."


def date_html(meta: DocumentMeta) -> str:
    """`shown_date` escaped; an estimate carries its reason on hover and to assistive technology."""
    text = _esc(shown_date(meta))
    if not meta.date_note or not meta.date:
        return text
    note = _esc(f"Estimated date: {meta.date_note}")
    return f'<span class="ca-estimated" title="{note}" aria-label="{text} ({note})">{text}</span>'


def type_choices(doc_types: Sequence[str]) -> list[tuple[str, str]]:
    """(label, slug) pairs for a type filter, so people tick words and the search gets slugs."""
    return [(type_label(t), t) for t in doc_types]


def highlight(text: str, start: int, end: int) -> str:
    """`text` escaped, with `text[start:end]` (offsets clamped to the text) in a highlight mark."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return (f"{_esc(text[:start])}<mark class=\"ca-mark\">{_esc(text[start:end])}</mark>"
            f"{_esc(text[end:])}")


def meta_line(meta: DocumentMeta, page: int | None = None, score: float | None = None,
              item: str | None = None) -> str:
    """"15 Mar 2022 · minutes · Item 37/18 Appointment of Internal Auditor · page 3", escaped; a page
    read by OCR says so."""
    parts = [type_label(meta.doc_type)]
    if item:
        parts.append(item)
    if page:
        parts.append(f"page {page}")
        if meta.read_by_ocr(page):
            parts.append(OCR_NOTE)
    if score is not None:
        parts.append(f"relevance {score:.2f}")
    return " · ".join([date_html(meta)] + [_esc(str(p)) for p in parts])


def cite_attrs(doc_id: str, start: int, end: int) -> str:
    """The data attributes a click handler needs to open `doc_id` at a span."""
    return f'data-doc="{_esc(doc_id)}" data-start="{int(start)}" data-end="{int(end)}"'


def cite_button(citation: Citation) -> str:
    label = f"Source {citation.n}: {citation.meta.title}"
    return (f'<button type="button" class="ca-cite" {cite_attrs(citation.meta.doc_id, citation.start, citation.end)} '
            f'title="{_esc(label)}" aria-label="{_esc(label)}">[{citation.n}]</button>')


def answer_text_html(answer: Answer, text: str | None = None) -> str:
    """The answer's text (or a prefix of it, while streaming) escaped, each `[n]` a citation button."""
    text = answer.text if text is None else text
    by_n = {c.n: c for c in answer.citations}
    out, pos = [], 0
    for match in _MARKER.finditer(text):
        citation = by_n.get(int(match.group(1)))
        out.append(_esc(text[pos:match.start()]))
        out.append(cite_button(citation) if citation else _esc(match.group(0)))
        pos = match.end()
    out.append(_esc(text[pos:]))
    return "".join(out)


def short_answer_lead(answer: Answer, text: str) -> tuple[str, str]:
    """(the short answer as a prominent line with its citation button, or "", the rest of `text`): the
    asked-for span leads, the quoted sentences follow."""
    short = answer.short_answer
    prefix = f"{short.text} [{short.n}] — " if short else ""
    if not short or not text.startswith(prefix):
        return "", text
    citation = next((c for c in answer.citations if c.n == short.n), None)
    button = cite_button(citation) if citation else ""
    return f'<p class="ca-short">{_esc(short.text)} {button}</p>', text[len(prefix):]


def question_html(question: str) -> str:
    return f'<div class="ca-question"><span class="ca-label">You</span>{_esc(question)}</div>'


def feedback_html(index: int) -> str:
    """👍/👎 on the answer of turn `index` (0-based), with an optional comment; the panel script sends the
    rating with the comment as a "feedback" event."""
    return (f'<div class="ca-feedback" data-turn="{int(index)}"><span class="ca-small">Was this answer useful?</span>'
            '<button type="button" class="ca-rate" data-rating="up" aria-pressed="false" '
            'aria-label="Useful" title="Useful">👍</button>'
            '<button type="button" class="ca-rate" data-rating="down" aria-pressed="false" '
            'aria-label="Not useful" title="Not useful">👎</button>'
            '<input type="text" class="ca-feedback-note" maxlength="500" placeholder="Comment (optional)" '
            'aria-label="Comment on this answer (optional), sent with 👍 or 👎"></div>')


def answer_actions_html(answer: Answer, index: int) -> str:
    """The actions under a finished answer (turn `index`, 0-based): "Copy answer" and "Export
    conversation" (static/actions.js), carrying this answer's plain text and its Markdown section
    (export.py) so that neither needs a call to the server, then the 👍/👎 feedback controls."""
    return (f'<div class="ca-answer-actions" data-copy="{_esc(answer_text(answer))}" '
            f'data-markdown="{_esc(turn_markdown(index + 1, answer))}">'
            '<button type="button" class="ca-action" data-action="copy" '
            'title="Copy this answer with its sources (titles, dates, pages and quotes) as plain text">Copy answer</button>'
            f'<button type="button" class="ca-action" data-action="export" data-head="{_esc(MARKDOWN_HEAD)}" '
            'title="Download the whole conversation, with every answer\'s sources, as a Markdown file">'
            "Export conversation</button></div>" + feedback_html(index))


def turn_html(answer: Answer, index: int | None = None) -> str:
    """One question and its answer. The answer sits in the turn's own polite live region (`.ca-reply`),
    the element that already held "Searching the papers…" (static/steps.js keeps it when the answer
    arrives), so assistive technology announces each answer once. With an `index`, the turn is
    numbered (`data-turn`) and gets the 👍/👎 feedback controls, outside the live region."""
    parts = []
    if answer.answered:
        lead, text = short_answer_lead(answer, answer.text)
        parts.append('<div class="ca-answer"><span class="ca-label">From the papers</span>' + lead +
                     f'<p class="ca-answer-text">{answer_text_html(answer, text)}</p>')
    else:
        parts.append('<div class="ca-answer ca-unanswered"><span class="ca-label">Not found in the papers</span>'
                     f'<p class="ca-answer-text">{_esc(answer.text)}</p>')
        if answer.citations:
            items = "".join(f"<li>{cite_button(c)} {_esc(c.meta.title)} "
                            f'<span class="ca-small">({meta_line(c.meta, c.page)})</span></li>'
                            for c in answer.citations)
            parts.append(f'<span class="ca-label">Possibly related</span><ul class="ca-related">{items}</ul>')
    if answer.query and answer.query != answer.question:
        parts.append(f'<p class="ca-small">{FOLLOW_UP_NOTE}</p>')
    for note in answer.notes:
        parts.append(f'<p class="ca-small">Note: {_esc(note)}</p>')
    parts.append("</div>")
    after = answer_actions_html(answer, index) if index is not None else ""
    return _turn(index, answer.question, "".join(parts), after)


def _turn(index: int | None, question: str, reply: str, after: str = "", busy: bool = False) -> str:
    number = f' id="ca-turn-{int(index)}" data-turn="{int(index)}"' if index is not None else ""
    state = ' aria-busy="true"' if busy else ""
    return (f'<section class="ca-turn"{number}>{question_html(question)}'
            f'<div class="ca-reply" aria-live="polite"{state}>{reply}</div>{after}</section>')


def pending_turn_html(question: str, index: int | None = None) -> str:
    """The turn of a question still being answered: its live region says so, and is busy."""
    return _turn(index, question, '<div class="ca-answer ca-pending">Searching the papers…</div>', busy=True)


def streamed_text(reply: str) -> str:
    """An LLM's reply as it streams in, for showing as plain text: without its `[n]` markers (or a marker
    still being written at the end), which only the checked answer turns into numbered citations."""
    return _PARTIAL_MARKER.sub("", _MARKER_GROUP.sub("", reply))


def empty_conversation_html(examples: Sequence[str]) -> str:
    buttons = "".join(f'<button type="button" data-example="{_esc(q)}">{_esc(q)}</button>' for q in examples)
    tried = f'<p class="ca-small">Try one of these:</p><div class="ca-examples">{buttons}</div>' if examples else ""
    return ('<div class="ca-empty"><h2>Ask about the council papers</h2>'
            "<p>Answers are quoted from the indexed papers, and every <strong>[n]</strong> opens the paper it "
            "comes from. Follow-up questions are understood in context. When the papers do not say, "
            f"the assistant says so.</p>{tried}</div>")


def conversation_notice_html(notice: str) -> str:
    return f'<div class="ca-notice" role="alert">{_esc(notice)}</div>'


def conversation_html(turns: Sequence[Answer], pending: str | None = None, notice: str | None = None,
                      examples: Sequence[str] = ()) -> str:
    """The whole conversation, drawn on page load, restore and New chat: finished turns, a pending
    question still being searched, and a notice (an error in plain words) at the end. Each turn has
    its own live region; the column itself is busy while an answer is on its way."""
    if not turns and pending is None:
        body = empty_conversation_html(examples)
    else:
        body = "".join(turn_html(a, index=i) for i, a in enumerate(turns))
        if pending is not None:
            body += pending_turn_html(pending, len(turns))
    if notice:
        body += conversation_notice_html(notice)
    busy = "true" if pending is not None else "false"
    return f'<div class="ca-html ca-conversation" aria-busy="{busy}">{body}</div>'


def passage_html(citation: Citation) -> str:
    """The citation's passage with its quoted sentence highlighted; the quote alone if the passage is
    missing or the offsets do not point at the quote."""
    passage = citation.passage
    start, end = citation.start - citation.passage_start, citation.end - citation.passage_start
    if passage and not (0 <= start <= end <= len(passage) and passage[start:end] == citation.quote):
        found = passage.find(citation.quote) if citation.quote else -1
        start, end = (found, found + len(citation.quote)) if found >= 0 else (-1, -1)
    if not passage or start < 0:
        return f'<mark class="ca-mark">{_esc(citation.quote)}</mark>'
    return highlight(passage, start, end)


def page_button(citation: Citation) -> str:
    """A "page N" link that opens the cited page of the original paper beside its text ("" without a page)."""
    if not citation.page:
        return ""
    label = f"Show page {citation.page} of the original paper, with the passage marked"
    return (f'<button type="button" class="ca-open ca-page-link" {cite_attrs(citation.meta.doc_id, citation.start, citation.end)} '
            f'data-page="{int(citation.page)}" title="{_esc(label)}" aria-label="{_esc(label)}">page {int(citation.page)}</button>')


def source_card_html(citation: Citation, related: bool = False, turn: int = 1) -> str:
    attrs = cite_attrs(citation.meta.doc_id, citation.start, citation.end)
    return (f'<article class="ca-card{" ca-related-card" if related else ""}" id="ca-source-{turn}-{citation.n}">'
            f"<h3>{cite_button(citation)} {_esc(citation.meta.title)}</h3>"
            f'<p class="ca-meta">{meta_line(citation.meta, citation.page, item=citation.meta.heading_at(citation.start))}</p>'
            f'<blockquote class="ca-passage">{passage_html(citation)}</blockquote>'
            f'<p class="ca-card-links"><button type="button" class="ca-open" {attrs}>Open the document at this passage →</button>'
            f"{page_button(citation)}</p></article>")


def source_group_html(turn: int, answer: Answer, open_: bool) -> str:
    """One answer's sources under its question, folded unless `open_`."""
    kind = "Sources" if answer.answered else "Possibly related"
    if answer.citations:
        body = "".join(source_card_html(c, related=not answer.answered, turn=turn) for c in answer.citations)
    else:
        body = '<p class="ca-small">No passage in the papers comes close.</p>'
    return (f'<details class="ca-source-group" id="ca-sources-{turn}"{" open" if open_ else ""}>'
            f'<summary><span class="ca-label">Question {turn} · {kind}</span>{_esc(answer.question)}</summary>'
            f"{body}</details>")


def sources_html(turns: Sequence[Answer]) -> str:
    """The sources panel: every answer's citation cards, grouped under their question in conversation
    order, so that answer 1's [1] and answer 3's [1] are never confused; the newest group is open."""
    if not turns:
        return ('<div class="ca-html ca-sources"><h2>Sources</h2><p class="ca-small ca-empty">The papers behind each '
                "answer appear here, with the quoted sentence highlighted.</p></div>")
    groups = "".join(source_group_html(i, a, open_=i == len(turns)) for i, a in enumerate(turns, start=1))
    return f'<div class="ca-html ca-sources"><h2>Sources</h2>{groups}</div>'


# --- steps: what one event changes in a panel, applied in the page by static/steps.js -------------
# A panel (the conversation, the sources) is drawn whole once; each later event sends a step that
# changes only its part of it, so an answer costs the bytes of its own turn however long the
# conversation. The keys: "html" replaces the whole panel; "part" (one element with an id) replaces
# the element of that id, or is appended; "turn" with "text" shows a streamed reply as plain text;
# "drop" removes an element by id; "notice" appends a notice; "busy" marks the panel's aria-busy;
# "record"/"records" add to / reset the browser's copy of the conversation.

def whole_step(html_: str, busy: bool = False, **more) -> dict:
    return {"html": html_, "busy": busy, **more}


def part_step(html_: str, busy: bool = False, **more) -> dict:
    return {"part": html_, "busy": busy, **more}


def text_step(index: int, text: str) -> dict:
    """A streamed reply so far, for turn `index`: plain text (the page sets it as text, never as HTML),
    growing at its end only, so Gradio's streaming diff sends just the new tokens."""
    return {"turn": int(index), "text": text, "busy": True}


def notice_step(notice: str, drop: int | None = None) -> dict:
    """An error in plain words at the end of the conversation, the pending turn `drop` removed."""
    return {"notice": conversation_notice_html(notice), "busy": False,
            **({"drop": f"ca-turn-{int(drop)}"} if drop is not None else {})}


def source_group_step(turn: int, answer: Answer) -> dict:
    """The sources of answer `turn` (1-based), open, the other groups folded."""
    return part_step(source_group_html(turn, answer, open_=True), fold=True)


INFERRED_NAMES = {"title": "title", "date": "date", "doc_type": "type of paper", "committee": "committee",
                  "council": "council"}


def page_view_html(image: PageImage, title: str) -> str:
    """The original page as an image, the cited passage marked over it (boxes placed in percentages, so
    the image may scale), and a line saying when the passage could not be marked."""
    marks = "".join(f'<span class="ca-page-mark" style="left:{100 * x:.3f}%;top:{100 * y:.3f}%;'
                    f'width:{100 * w:.3f}%;height:{100 * h:.3f}%"></span>' for x, y, w, h in image.boxes)
    note = f'<p class="ca-small ca-page-note">{_esc(image.note)}</p>' if image.note else ""
    where = "with the cited passage marked" if image.located else "as printed"
    return (f'<figure class="ca-page-view"><figcaption class="ca-small">Page {image.page} of {image.pages}, '
            f"{where}</figcaption>{note}"
            f'<div class="ca-page-image"><img src="{image.data_uri}" width="{image.width}" height="{image.height}" '
            f'alt="Page {image.page} of {_esc(title)}">{marks}</div></figure>')


def document_html(document: Document, start: int | None = None, end: int | None = None,
                  page_view: str | None = None) -> str:
    """A document's cleaned text, page by page for PDFs, with `text[start:end]` highlighted (id ca-hit);
    `page_view` (the original page, from `page_view_html`, or a notice) is shown beside it."""
    text, meta = document.text, document.meta
    details = [type_label(meta.doc_type), meta.council, meta.committee]
    head = [f"<h2>{_esc(meta.title)}</h2>",
            f'<p class="ca-meta">{" · ".join([date_html(meta)] + [_esc(d) for d in details if d])}</p>']
    if meta.source and _WEB.match(meta.source):
        head.append(f'<p class="ca-small">Source: <a href="{_esc(meta.source)}" target="_blank" '
                    f'rel="noopener noreferrer">{_esc(meta.source)}</a></p>')
    if meta.date_note:
        head.append(f'<p class="ca-small">About the date: {_esc(meta.date_note)}</p>')
    if meta.inferred:
        fields = ", ".join(INFERRED_NAMES.get(name, name) for name in meta.inferred)
        head.append(f'<p class="ca-small">Read from the paper itself, as no manifest entry describes it: '
                    f'{_esc(fields)}.</p>')
    if start is not None and end is not None:
        start = max(0, min(start, len(text)))
        end = max(start, min(end, len(text)))
        page = document.page_at(start)
        where = f" on page {page}" if page else ""
        head.append(f'<p class="ca-small">The cited passage{where} is highlighted below.</p>')
    pages = {s: i + 1 for i, s in enumerate(document.page_starts)}
    cuts = sorted({0, len(text), *[s for s in pages if 0 <= s <= len(text)],
                   *([start, end] if start is not None and end is not None else [])})
    body, first_hit = [], True
    for a, b in zip(cuts, cuts[1:] + [None]):
        if a in pages and (a < len(text) or len(pages) > 1):
            body.append(f'<span class="ca-page">Page {pages[a]}</span>')
        if b is None:
            break
        piece = _esc(text[a:b])
        if start is not None and end is not None and start <= a and b <= end and a < b:
            hit_id = ' id="ca-hit"' if first_hit else ""
            first_hit = False
            piece = f'<mark class="ca-mark"{hit_id}>{piece}</mark>'
        body.append(piece)
    text_view = f'<div class="ca-doc-text" tabindex="0">{"".join(body)}</div>'
    if page_view:
        text_view = f'<div class="ca-doc-split">{page_view}{text_view}</div>'
    return f'<div class="ca-html ca-doc">{"".join(head)}{text_view}</div>'


def page_notice_html(message: str) -> str:
    """What the page view says instead of a page it cannot show."""
    return f'<div class="ca-page-view"><div class="ca-notice" role="status">{_esc(message)}</div></div>'


def notice_html(message: str) -> str:
    return f'<div class="ca-html"><div class="ca-notice" role="alert">{_esc(message)}</div></div>'


def placeholder_document_html() -> str:
    return ('<div class="ca-html ca-doc"><p class="ca-small">Click a citation <strong>[n]</strong>, a source card, '
            "a search result or a paper in the library to read it here.</p></div>")


def header_html(documents: Sequence[tuple[DocumentMeta, int]]) -> str:
    dates = sorted(m.date for m, _ in documents if m.date)
    councils = sorted({m.council for m, _ in documents if m.council})
    span = f", {date_text(dates[0])} to {date_text(dates[-1])}" if dates else ""
    who = f" from {', '.join(councils)}" if councils else ""
    count = f"{len(documents)} paper{'s' if len(documents) != 1 else ''}"
    return (f'<div class="ca-header"><h1>{_esc(TITLE)}</h1>'
            f"<p>{_esc(count + who + span)}. Answers quote the papers and cite them.</p></div>")
