"""The browser app: chat with cited answers (councillors), passage search with CSV export (officers),
the library of indexed papers, and a document view that shows a cited passage in its source.

Interfaces call only the `Assistant`. Every piece of document or question text is escaped before it
becomes HTML; documents are opened by doc_id through the Assistant, so nothing the browser sends
reaches the file system. The HTML builders are pure functions; `build_app` lays out the Blocks;
`serve` launches it (loopback by default, analytics off, login when both UI settings are set) behind
`serving.RequestGuard`, which bounds request bodies and refuses clients without a login before reading them.
API endpoints for `gradio_client`: /ask, /search, /document, /documents, each returning JSON.
"""
from __future__ import annotations

from .settings import prepare_libraries

prepare_libraries("gradio")  # before Gradio is imported: it reads the variable then

import atexit
import os
import csv
import html
import logging
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, Sequence

import gradio as gr
from starlette.middleware import Middleware

from .api import build_api, mount
from .errors import AssistantError
from .serving import RateLimit, RequestGuard
from .types import OCR_NOTE, Answer, Citation, Document, DocumentMeta, Passage
from .users import Logins

log = logging.getLogger(__name__)

TITLE = "Council papers assistant"
# Questions the shipped corpus answers; pass `examples=` to build_app for another archive.
EXAMPLE_QUESTIONS = (
    "How much extra funding went into children's services in 2021/22?",
    "When was the notice of the Ofsted inspection received?",
    "Who is the DfE adviser working with the Improvement Board?",
    "Why was a government commissioner appointed?",
)
SEARCH_HEADERS = ["rank", "title", "date", "type", "page", "score", "passage"]
LIBRARY_HEADERS = ["title", "date", "type", "committee", "chunks", "doc_id"]
CSV_HEADERS = ["rank", "doc_id", "title", "date", "doc_type", "page", "score", "source", "start", "end", "text"]
STREAM_WORDS = 3
STREAM_PAUSE = 0.04  # s between steps; much shorter and the browser merges the steps
UNEXPECTED = "Something went wrong on the server; the details are in its log. Please try again."

_MARKER = re.compile(r"\[(\d+)\]")
_esc = html.escape

# One listener on each HTML panel: a click on a citation opens its document, a click on an example
# question asks it. Event names must appear quoted here for gr.HTML to expose them to Python.
PANEL_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('[data-doc]');
  if (cite && element.contains(cite)) {
    event.preventDefault();
    trigger('cite', {doc_id: cite.dataset.doc, start: Number(cite.dataset.start),
                     end: Number(cite.dataset.end)});
    return;
  }
  const example = event.target.closest('[data-example]');
  if (example && element.contains(example)) trigger('ask_example', {question: example.dataset.example});
});
"""
# The conversation box keeps its newest turn in view while an answer streams in.
CONVERSATION_JS = PANEL_JS + """
watch('value', () => { element.scrollTop = element.scrollHeight; });
"""
# After a document opens: bring the highlighted span into view (once its tab is visible).
SCROLL_TO_HIT_JS = """
() => {
  const attempt = (left) => {
    const view = document.querySelector('#ca-document');
    const box = view && view.querySelector('.ca-doc-text');
    if (!box || box.offsetParent === null) {
      if (left > 0) setTimeout(() => attempt(left - 1), 100);
      return;
    }
    const hit = box.querySelector('#ca-hit');
    if (box.scrollHeight > box.clientHeight + 1) {
      box.scrollTop = hit ? Math.max(0, hit.offsetTop - box.clientHeight / 3) : 0;
      document.querySelector('#ca-back').scrollIntoView({block: 'start'});
    } else if (hit) {
      hit.scrollIntoView({block: 'center'});
    }
  };
  attempt(30);
}
"""

CSS = """
:root { --ca-accent: #1f4e9c; --ca-cite-bg: #e6edfb; --ca-question-bg: #eef1f5; --ca-muted: #4b5563; }
.dark { --ca-accent: #9dbdff; --ca-cite-bg: #1e2b45; --ca-question-bg: #2a2f38; --ca-muted: #b6c0cc; }
.gradio-container { width: 100% !important; max-width: 1240px !important; margin: 0 auto !important; }
#ca-results, #ca-library { --font-mono: var(--font); }
#ca-results [role=gridcell], #ca-library [role=gridcell] { align-items: flex-start; }
.ca-header h1 { font-size: 1.55rem; line-height: 1.25; margin: .2rem 0 .25rem; }
.ca-header p { margin: 0; color: var(--ca-muted); font-size: .98rem; }
.ca-html { font-size: 1rem; line-height: 1.6; color: var(--body-text-color); }
.ca-html p { margin: 0 0 .5rem; }
#ca-conversation { min-height: 340px; max-height: 64vh; overflow-y: auto; padding: 1rem;
  border: 1px solid var(--border-color-primary); border-radius: 10px; background: var(--block-background-fill); }
.ca-turn { display: flex; flex-direction: column; gap: .6rem; margin-bottom: 1.2rem; }
.ca-question { align-self: flex-end; max-width: 85%; background: var(--ca-question-bg);
  border-radius: 14px 14px 3px 14px; padding: .5rem .9rem; white-space: pre-wrap; }
.ca-answer { max-width: 72ch; border-left: 4px solid var(--ca-accent); padding: .15rem 0 .15rem .9rem; }
.ca-answer.ca-unanswered { border-left: 4px dashed var(--border-color-primary); }
.ca-answer.ca-unanswered .ca-answer-text { font-style: italic; }
.ca-short { font-size: 1.25rem; font-weight: 700; line-height: 1.35; margin: .1rem 0 .45rem; }
.ca-answer.ca-pending { border-left-color: var(--border-color-primary); color: var(--ca-muted); }
.ca-label { display: block; font-size: .8rem; font-weight: 700; color: var(--ca-muted);
  margin: 0 0 .15rem; }
.ca-related { margin: .3rem 0 0; padding-left: 1.1rem; }
.ca-related li { margin: .15rem 0; }
.ca-small { font-size: .85rem; color: var(--ca-muted); }
.ca-notice { border: 1px solid #b45309; background: #fff7ed; color: #7c2d12; border-radius: 8px;
  padding: .55rem .8rem; margin-top: .5rem; }
.dark .ca-notice { background: #3b2410; color: #fde3c8; }
.ca-empty h2 { font-size: 1.15rem; margin: 0 0 .3rem; }
.ca-examples { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .8rem; }
.ca-examples button { font: inherit; font-size: .92rem; text-align: left; cursor: pointer;
  color: var(--body-text-color);
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary);
  border-radius: 999px; padding: .35rem .85rem; }
.ca-examples button:hover, .ca-examples button:focus-visible { border-color: var(--ca-accent); }
button.ca-cite { font: inherit; font-size: .82em; font-weight: 700; line-height: 1.2; color: var(--ca-accent);
  background: var(--ca-cite-bg); border: 1px solid transparent; border-radius: 4px; padding: 0 .3em;
  margin: 0 .05em; cursor: pointer; vertical-align: baseline; }
button.ca-cite:hover, button.ca-cite:focus-visible { border-color: var(--ca-accent); text-decoration: underline; }
mark.ca-mark { background: #ffe066; color: #1a1a1a; border-radius: 2px; padding: 0 .08em;
  box-shadow: 0 0 0 1px #e0b400; }
.ca-sources h2 { font-size: 1.05rem; font-weight: 700; margin: .2rem 0 .6rem; }
.ca-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .75rem .9rem;
  margin: 0 0 .75rem; background: var(--block-background-fill); }
.ca-card h3 { font-size: 1rem; line-height: 1.35; margin: 0 0 .2rem; }
.ca-card.ca-related-card { opacity: .92; border-style: dashed; }
.ca-meta { font-size: .84rem; color: var(--ca-muted); margin: 0 0 .5rem !important; }
.ca-passage { font-size: .92rem; line-height: 1.55; margin: 0 0 .5rem; padding: .5rem .7rem; border-radius: 6px;
  background: var(--background-fill-secondary); white-space: pre-wrap; overflow-wrap: anywhere; }
button.ca-open { font: inherit; font-size: .88rem; font-weight: 600; color: var(--ca-accent); background: none;
  border: none; padding: 0; cursor: pointer; }
button.ca-open:hover, button.ca-open:focus-visible { text-decoration: underline; }
.ca-doc h2 { font-size: 1.25rem; line-height: 1.3; margin: 0 0 .3rem; }
.ca-doc-text { position: relative; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 80ch;
  max-height: 70vh; overflow-y: auto;
  padding: .8rem 1rem; border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--block-background-fill); line-height: 1.65; }
.ca-page { display: block; margin: .8rem 0 .4rem; padding-top: .3rem;
  border-top: 1px dashed var(--border-color-primary);
  font-size: .8rem; font-weight: 700; color: var(--ca-muted); }
.ca-status { min-height: 1.4rem; }
@media (max-width: 640px) {
  .ca-header h1 { font-size: 1.3rem; }
  #ca-conversation { max-height: none; min-height: 220px; padding: .7rem; }
  .ca-question { max-width: 100%; }
  .ca-doc-text { max-height: none; }
}
"""


# ---------------------------------------------------------------------------------------------
# Pure builders: domain objects in, escaped HTML or table rows out.
# ---------------------------------------------------------------------------------------------

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
    parts = [meta.date or "undated", meta.doc_type]
    if item:
        parts.append(item)
    if page:
        parts.append(f"page {page}")
        if meta.read_by_ocr(page):
            parts.append(OCR_NOTE)
    if score is not None:
        parts.append(f"relevance {score:.2f}")
    return " · ".join(_esc(str(p)) for p in parts)


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


def turn_html(answer: Answer, shown: str | None = None) -> str:
    """One question and its answer; `shown` is the part of the answer streamed so far."""
    parts = [question_html(answer.question)]
    if answer.answered:
        lead, text = short_answer_lead(answer, answer.text if shown is None else shown)
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
    if answer.query and answer.query != answer.question and shown is None:
        parts.append(f'<p class="ca-small">Searched for: {_esc(answer.query)}</p>')
    for note in answer.notes if shown is None else ():
        parts.append(f'<p class="ca-small">Note: {_esc(note)}</p>')
    parts.append("</div>")
    return f'<section class="ca-turn">{"".join(parts)}</section>'


def pending_turn_html(question: str) -> str:
    return (f'<section class="ca-turn">{question_html(question)}'
            '<div class="ca-answer ca-pending">Searching the papers…</div></section>')


def empty_conversation_html(examples: Sequence[str]) -> str:
    buttons = "".join(f'<button type="button" data-example="{_esc(q)}">{_esc(q)}</button>' for q in examples)
    tried = f'<p class="ca-small">Try one of these:</p><div class="ca-examples">{buttons}</div>' if examples else ""
    return ('<div class="ca-empty"><h2>Ask about the council papers</h2>'
            "<p>Answers are quoted from the indexed papers, and every <strong>[n]</strong> opens the paper it "
            "comes from. Follow-up questions are understood in context. When the papers do not say, "
            f"the assistant says so.</p>{tried}</div>")


def conversation_html(turns: Sequence[Answer], shown_last: str | None = None, pending: str | None = None,
                      notice: str | None = None, examples: Sequence[str] = ()) -> str:
    """The whole conversation: finished turns, the last one streamed up to `shown_last`, a pending
    question still being searched, and a notice (an error in plain words) at the end."""
    if not turns and pending is None:
        body = empty_conversation_html(examples)
    else:
        body = "".join(turn_html(a, shown_last if i == len(turns) - 1 else None) for i, a in enumerate(turns))
        if pending is not None:
            body += pending_turn_html(pending)
    if notice:
        body += f'<div class="ca-notice" role="alert">{_esc(notice)}</div>'
    busy = "true" if pending is not None or shown_last is not None else "false"
    return f'<div class="ca-html ca-conversation" aria-live="polite" aria-busy="{busy}">{body}</div>'


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


def source_card_html(citation: Citation, related: bool = False) -> str:
    attrs = cite_attrs(citation.meta.doc_id, citation.start, citation.end)
    return (f'<article class="ca-card{" ca-related-card" if related else ""}" id="ca-source-{citation.n}">'
            f"<h3>{cite_button(citation)} {_esc(citation.meta.title)}</h3>"
            f'<p class="ca-meta">{meta_line(citation.meta, citation.page, item=citation.meta.heading_at(citation.start))}</p>'
            f'<blockquote class="ca-passage">{passage_html(citation)}</blockquote>'
            f'<button type="button" class="ca-open" {attrs}>Open the document at this passage →</button></article>')


def sources_html(answer: Answer | None) -> str:
    """The sources panel: a card per citation of the latest answer."""
    if answer is None:
        return ('<div class="ca-html ca-sources"><h2>Sources</h2><p class="ca-small">The papers behind each '
                "answer appear here, with the quoted sentence highlighted.</p></div>")
    if not answer.citations:
        return ('<div class="ca-html ca-sources"><h2>Sources</h2>'
                '<p class="ca-small">No passage in the papers comes close.</p></div>')
    heading = "Sources" if answer.answered else "Possibly related"
    cards = "".join(source_card_html(c, related=not answer.answered) for c in answer.citations)
    return f'<div class="ca-html ca-sources"><h2>{heading}</h2>{cards}</div>'


INFERRED_NAMES = {"title": "title", "date": "date", "doc_type": "type of paper", "committee": "committee",
                  "council": "council"}


def document_html(document: Document, start: int | None = None, end: int | None = None) -> str:
    """A document's cleaned text, page by page for PDFs, with `text[start:end]` highlighted (id ca-hit)."""
    text, meta = document.text, document.meta
    details = [meta.date or "undated", meta.doc_type, meta.council, meta.committee]
    head = [f"<h2>{_esc(meta.title)}</h2>",
            f'<p class="ca-meta">{" · ".join(_esc(d) for d in details if d)}</p>']
    if meta.source:
        head.append(f'<p class="ca-small">Source: {_source_html(meta.source)}</p>')
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
    return (f'<div class="ca-html ca-doc">{"".join(head)}'
            f'<div class="ca-doc-text" tabindex="0">{"".join(body)}</div></div>')


def _source_html(source: str) -> str:
    if re.match(r"https?://", source, re.IGNORECASE):
        return f'<a href="{_esc(source)}" target="_blank" rel="noopener noreferrer">{_esc(source)}</a>'
    return _esc(source)


def notice_html(message: str) -> str:
    return f'<div class="ca-html"><div class="ca-notice" role="alert">{_esc(message)}</div></div>'


def placeholder_document_html() -> str:
    return ('<div class="ca-html ca-doc"><p class="ca-small">Click a citation <strong>[n]</strong>, a source card, '
            "a search result or a paper in the library to read it here.</p></div>")


def header_html(documents: Sequence[tuple[DocumentMeta, int]]) -> str:
    dates = sorted(m.date for m, _ in documents if m.date)
    councils = sorted({m.council for m, _ in documents if m.council})
    span = f", {dates[0]} to {dates[-1]}" if dates else ""
    who = f" from {', '.join(councils)}" if councils else ""
    count = f"{len(documents)} paper{'s' if len(documents) != 1 else ''}"
    return (f'<div class="ca-header"><h1>{_esc(TITLE)}</h1>'
            f"<p>{_esc(count + who + span)}. Answers quote the papers and cite them.</p></div>")


def library_summary_md(documents: Sequence[tuple[DocumentMeta, int]]) -> str:
    total = sum(chunks for _, chunks in documents)
    return f"**{len(documents)}** papers indexed in **{total}** passages. Select a row to read a paper."


def search_rows(passages: Sequence[Passage]) -> list[list]:
    return [[p.rank, p.meta.title, p.meta.date or "", p.meta.doc_type, p.chunk.page or "", round(p.score, 3),
             " ".join(p.chunk.text.split())] for p in passages]


def library_rows(documents: Sequence[tuple[DocumentMeta, int]]) -> list[list]:
    return [[m.marked("title"), m.marked("date"), m.marked("doc_type"), m.marked("committee"), chunks, m.doc_id]
            for m, chunks in documents]


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_search_csv(passages: Sequence[Passage], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADERS)
        for p in passages:
            writer.writerow([csv_cell(v) for v in (
                p.rank, p.meta.doc_id, p.meta.title, p.meta.date, p.meta.doc_type, p.chunk.page,
                f"{p.score:.4f}", p.meta.source, p.chunk.start, p.chunk.end, " ".join(p.chunk.text.split()))])
    return path


def answer_json(answer: Answer) -> dict:
    """`Answer.to_json()` plus each citation's offsets into its document (for /document)."""
    out = answer.to_json()
    for data, citation in zip(out["citations"], answer.citations):
        data.update(start=citation.start, end=citation.end)
    return out


def passage_json(passage: Passage) -> dict:
    return {**passage.to_json(), "start": passage.chunk.start, "end": passage.chunk.end}


def stream_prefixes(text: str, words: int = STREAM_WORDS) -> Iterator[str]:
    """Growing prefixes of `text`, a few words at a time, ending with the whole text."""
    tokens = re.findall(r"\S+\s*", text)
    for i in range(words, len(tokens), words):
        yield "".join(tokens[:i])
    yield text


# ---------------------------------------------------------------------------------------------
# What the app does: each method calls the Assistant (one call at a time) and returns UI values.
# ---------------------------------------------------------------------------------------------

class Actions:
    """The app's calls into the Assistant, made from Gradio's worker threads side by side: the
    Assistant is thread-safe, so no call waits behind another (a slow LLM reply holds up only its own
    user). An answer depends only on the question and the index build, whoever else is asking
    (tests/test_concurrency.py checks it; bench/concurrency.py measures it)."""

    def __init__(self, assistant, examples: Sequence[str] = EXAMPLE_QUESTIONS, logins: Logins | None = None,
                 limit: RateLimit | None = None) -> None:
        self.assistant = assistant
        self.examples = tuple(examples)
        self.logins = logins or Logins()
        self.limit = limit or RateLimit()
        self.exports = Path(tempfile.mkdtemp(prefix="council-assistant-exports-"))
        atexit.register(shutil.rmtree, self.exports, True)

    def warm_up(self) -> None:
        """Load the embedding model and the index before the first question needs them."""
        try:
            self.assistant.load()
        except Exception:  # a failure here will be reported to the first question instead
            log.exception("warm-up failed")

    def sees_restricted(self, request: gr.Request | None) -> bool:
        """Whether the signed-in user of `request` may see restricted papers (everyone may when the app
        has no login; nobody unknown to the users file may)."""
        if not self.logins.required:
            return True
        user = self.logins.user(getattr(request, "username", None))
        return bool(user and user.restricted)

    def _admit(self, request: gr.Request | None) -> str | None:
        """None when the user may ask now, else the rate limit's message."""
        key = getattr(request, "username", None) or getattr(getattr(request, "client", None), "host", None) or ""
        wait = self.limit.wait(key)
        return self.limit.message(wait) if wait else None

    # --- chat -------------------------------------------------------------------------------
    def respond(self, message: str, turns: list[Answer], since: str | None, until: str | None,
                doc_types: list[str] | None, request: gr.Request = None):
        """Stream the answer to `message`: (conversation, sources, turns, question box) per step."""
        turns = list(turns or [])
        latest = turns[-1] if turns else None
        if (message or "").strip():
            yield conversation_html(turns, pending=message.strip()), sources_html(latest), turns, ""
        refused = self._admit(request)
        if refused:
            yield conversation_html(turns, notice=refused, examples=self.examples), sources_html(latest), turns, message
            return
        try:
            history = [(a.question, a.text) for a in turns]
            answer = self.assistant.chat(history, message, since=since or None, until=until or None,
                                         doc_types=tuple(doc_types or ()), restricted=self.sees_restricted(request))
        except Exception as exc:
            yield (conversation_html(turns, notice=friendly(exc), examples=self.examples), sources_html(latest),
                   turns, message)
            return
        turns.append(answer)
        sources = sources_html(answer)
        if answer.answered:
            for shown in stream_prefixes(answer.text):
                yield conversation_html(turns, shown_last=shown), sources, turns, ""
                time.sleep(STREAM_PAUSE)
        yield conversation_html(turns), sources, turns, ""

    def ask_example(self, turns: list[Answer], since, until, doc_types, evt: gr.EventData,
                    request: gr.Request = None):
        yield from self.respond(str(getattr(evt, "question", "")), turns, since, until, doc_types, request)

    def new_chat(self):
        return conversation_html([], examples=self.examples), sources_html(None), []

    # --- documents --------------------------------------------------------------------------
    def open_document(self, doc_id: str, start: int | None = None, end: int | None = None,
                      request: gr.Request = None) -> str:
        """The document view for an indexed doc_id the user may see (anything else gets a plain message)."""
        try:
            document = self.assistant.document(str(doc_id), restricted=self.sees_restricted(request)) if doc_id else None
        except Exception as exc:
            return notice_html(friendly(exc))
        if document is None:
            return notice_html("That paper is not in the index (it may have been removed since). "
                               "Search or browse the library for it.")
        return document_html(document, start, end)

    def show_document(self, origin: str, doc_id: str, start: int | None = None, end: int | None = None,
                      request: gr.Request = None):
        """(document view, tab switch, the tab to go back to)."""
        return self.open_document(doc_id, start, end, request), gr.Tabs(selected="document"), origin

    def open_citation(self, evt: gr.EventData, request: gr.Request = None):
        return self.show_document("chat", str(getattr(evt, "doc_id", "")), _int(getattr(evt, "start", None)),
                                  _int(getattr(evt, "end", None)), request)

    def open_search_result(self, passages: list[Passage], evt: gr.SelectData, request: gr.Request = None):
        row = _row(evt, len(passages or ()))
        if row is None:
            return gr.skip(), gr.skip(), gr.skip()
        p = passages[row]
        return self.show_document("search", p.meta.doc_id, p.chunk.start, p.chunk.end, request)

    def open_library_row(self, doc_ids: list[str], evt: gr.SelectData, request: gr.Request = None):
        row = _row(evt, len(doc_ids or ()))
        if row is None:
            return gr.skip(), gr.skip(), gr.skip()
        return self.show_document("library", doc_ids[row], request=request)

    def library_view(self, request: gr.Request = None):
        """(header, library summary, library rows, their doc_ids, and the two type filters) for the
        index as it is now, as the signed-in user may see it."""
        try:
            documents = self.assistant.documents(restricted=self.sees_restricted(request))
        except Exception as exc:  # the page keeps the library it was built with
            log.warning("library not refreshed: %s", friendly(exc))
            return (gr.skip(),) * 6
        types = sorted({meta.doc_type for meta, _ in documents})
        return (header_html(documents), library_summary_md(documents), library_rows(documents),
                [m.doc_id for m, _ in documents], gr.CheckboxGroup(choices=types), gr.CheckboxGroup(choices=types))

    # --- search -----------------------------------------------------------------------------
    def search_table(self, query: str, k: float, since: str | None, until: str | None, doc_types: list[str] | None,
                     request: gr.Request = None):
        """(table rows, CSV download, passages, status) for a query."""
        try:
            passages = self.assistant.search(query, k=int(k), since=since or None, until=until or None,
                                             doc_types=tuple(doc_types or ()),
                                             restricted=self.sees_restricted(request))
        except Exception as exc:
            return [], gr.DownloadButton(value=None, visible=False), [], notice_html(friendly(exc))
        if not passages:
            return ([], gr.DownloadButton(value=None, visible=False), [],
                    '<p class="ca-small">No passages match; try other words or fewer filters.</p>')
        folder = self.exports / uuid.uuid4().hex
        folder.mkdir()
        slug = "-".join(re.findall(r"[a-z0-9]+", query.lower()))[:40] or "results"
        path = write_search_csv(passages, folder / f"search-{slug}.csv")
        status = (f'<p class="ca-small">{len(passages)} passage{"s" if len(passages) != 1 else ""}, best first. '
                  "Select a row to read it in its document.</p>")
        return search_rows(passages), gr.DownloadButton(value=str(path), visible=True), passages, status

    # --- API (JSON for gradio_client) -----------------------------------------------------
    def api_ask(self, question: str, history: list | None = None, since: str | None = None,
                until: str | None = None, doc_types: list[str] | None = None, request: gr.Request = None) -> dict:
        """A cited answer: the `ask --json` object, with each citation's start/end offsets. `history`:
        earlier turns as [question, answer] pairs or role/content messages, for follow-ups."""
        refused = self._admit(request)
        if refused:
            raise gr.Error(refused, print_exception=False)
        try:
            answer = self.assistant.chat(history or [], question, since=since or None,
                                         until=until or None, doc_types=doc_types or (),
                                         restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return answer_json(answer)

    def api_search(self, query: str, k: int | None = None, since: str | None = None, until: str | None = None,
                   doc_types: list[str] | None = None, request: gr.Request = None) -> dict:
        """Ranked passages: the `search --json` object, with each passage's start/end offsets."""
        try:
            passages = self.assistant.search(query, k=k, since=since or None, until=until or None,
                                             doc_types=doc_types or (), restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return {"query": query, "results": [passage_json(p) for p in passages]}

    def api_document(self, doc_id: str, request: gr.Request = None) -> dict:
        """An indexed document's metadata and cleaned text (page_starts: offsets where PDF pages begin)."""
        try:
            document = self.assistant.document(str(doc_id), restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        if document is None:
            raise gr.Error(f"no indexed document has the id {_short(doc_id)}; /documents lists them",
                           print_exception=False)
        return {**_meta_json(document.meta), "text": document.text, "page_starts": list(document.page_starts)}

    def api_documents(self, request: gr.Request = None) -> list:
        """The indexed documents with their metadata and chunk counts."""
        try:
            documents = self.assistant.documents(restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return [{**_meta_json(meta), "chunks": chunks} for meta, chunks in documents]


def _meta_json(meta: DocumentMeta) -> dict:
    return {"doc_id": meta.doc_id, "title": meta.title, "date": meta.date, "doc_type": meta.doc_type,
            "council": meta.council, "committee": meta.committee, "source": meta.source}


def _short(value, limit: int = 80) -> str:
    """`value` quoted for an error message, cut to `limit` characters."""
    text = repr(str(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _row(evt: gr.SelectData, rows: int) -> int | None:
    """The table row a select event points at, if it is one of `rows`."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return row if isinstance(row, int) and 0 <= row < rows else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def friendly(exc: BaseException) -> str:
    """What the user is told: the assistant's own message, or a plain apology for anything else."""
    if isinstance(exc, AssistantError):
        text = str(exc)
        return text[:1].upper() + text[1:]
    log.error("unexpected error in the UI", exc_info=exc)
    return UNEXPECTED


def api_error(exc: BaseException) -> gr.Error:
    return gr.Error(friendly(exc), print_exception=False)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------

def build_app(assistant, examples: Sequence[str] = EXAMPLE_QUESTIONS, logins: Logins | None = None,
              limit: RateLimit | None = None) -> gr.Blocks:
    """The Blocks app over `assistant`: Chat, Search, Library and Document tabs, plus JSON API endpoints.
    With a login, the page is laid out with the public papers only; each page load then shows the
    signed-in user what they may see."""
    actions = Actions(assistant, examples, logins, limit)
    documents = assistant.documents(restricted=not actions.logins.required)
    doc_types = sorted({meta.doc_type for meta, _ in documents})
    private = dict(api_visibility="private")

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        header = gr.HTML(header_html(documents), apply_default_css=False, js_on_load=None)
        turns = gr.State([])
        passages = gr.State([])
        library_ids = gr.State([m.doc_id for m, _ in documents])
        origin = gr.State("chat")

        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        conversation = gr.HTML(conversation_html([], examples=actions.examples),
                                               elem_id="ca-conversation", apply_default_css=False,
                                               js_on_load=CONVERSATION_JS)
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(show_label=False, placeholder="Ask about the council papers…",
                                                  lines=1, max_lines=6, scale=5, elem_id="ca-question",
                                                  autofocus=True, container=False)
                            ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ca-ask")
                        with gr.Row():
                            new_chat = gr.Button("New chat", size="sm", variant="secondary", scale=0,
                                                 min_width=110, elem_id="ca-new-chat")
                        with gr.Accordion("Filters: dates and types of paper", open=False):
                            with gr.Row():
                                chat_since = gr.DateTime(label="From", include_time=False, type="string")
                                chat_until = gr.DateTime(label="To", include_time=False, type="string")
                            chat_types = gr.CheckboxGroup(doc_types, label="Types of paper (none ticked: all)")
                    with gr.Column(scale=2, min_width=300):
                        sources = gr.HTML(sources_html(None), elem_id="ca-sources", apply_default_css=False,
                                          js_on_load=PANEL_JS)

            with gr.Tab("Search", id="search"):
                gr.Markdown("Ranked passages from the papers, for checking and exporting. "
                            "Select a row to read the passage in its document.")
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="Search the papers", placeholder="e.g. foster carers recruitment",
                                       scale=5, elem_id="ca-query")
                    k = gr.Slider(1, 50, value=assistant.settings.top_k, step=1, label="Results", scale=2)
                    search_button = gr.Button("Search", variant="primary", scale=1, min_width=90,
                                              elem_id="ca-search")
                with gr.Row():
                    search_since = gr.DateTime(label="From", include_time=False, type="string")
                    search_until = gr.DateTime(label="To", include_time=False, type="string")
                    search_types = gr.CheckboxGroup(doc_types, label="Types of paper (none ticked: all)")
                with gr.Row(equal_height=True):
                    search_status = gr.HTML("", elem_classes="ca-status", apply_default_css=False, js_on_load=None)
                    download = gr.DownloadButton("Download CSV", visible=False, elem_id="ca-download", size="md",
                                                 scale=0, min_width=160)
                results = gr.Dataframe(headers=SEARCH_HEADERS, value=[], interactive=False, wrap=True,
                                       column_widths=["6%", "22%", "10%", "12%", "6%", "7%", "37%"],
                                       elem_id="ca-results", max_height=640)

            with gr.Tab("Library", id="library"):
                library_summary = gr.Markdown(library_summary_md(documents))
                library = gr.Dataframe(headers=LIBRARY_HEADERS, value=library_rows(documents), interactive=False,
                                       wrap=True, elem_id="ca-library", max_height=720,
                                       column_widths=["34%", "10%", "15%", "20%", "8%", "13%"])

            with gr.Tab("Document", id="document"):
                back = gr.Button("← Back", size="sm", variant="secondary", scale=0, min_width=90,
                                 elem_id="ca-back")
                document = gr.HTML(placeholder_document_html(), elem_id="ca-document", apply_default_css=False,
                                   js_on_load=None)

        # The JSON API first, so that its endpoints own these names.
        gr.api(actions.api_ask, api_name="ask")
        gr.api(actions.api_search, api_name="search")
        gr.api(actions.api_document, api_name="document")
        gr.api(actions.api_documents, api_name="documents")

        chat_inputs = [question, turns, chat_since, chat_until, chat_types]
        chat_outputs = [conversation, sources, turns, question]
        for trigger in (question.submit, ask.click):
            trigger(actions.respond, chat_inputs, chat_outputs, show_progress="hidden", **private)
        conversation.ask_example(actions.ask_example, [turns, chat_since, chat_until, chat_types], chat_outputs,
                                 show_progress="hidden", **private)
        new_chat.click(actions.new_chat, None, [conversation, sources, turns], **private)
        for panel in (conversation, sources):
            panel.cite(actions.open_citation, None, [document, tabs, origin], **private).then(
                None, None, None, js=SCROLL_TO_HIT_JS, **private)

        search_inputs = [query, k, search_since, search_until, search_types]
        search_outputs = [results, download, passages, search_status]
        for trigger in (query.submit, search_button.click):
            trigger(actions.search_table, search_inputs, search_outputs, **private)
        results.select(actions.open_search_result, [passages], [document, tabs, origin], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)
        library.select(actions.open_library_row, [library_ids], [document, tabs, origin], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)

        back.click(lambda tab: gr.Tabs(selected=tab), [origin], [tabs], **private)
        # Each page load shows the index as it is now: ingest may have published a new build since.
        app.load(actions.library_view, None,
                 [header, library_summary, library, library_ids, chat_types, search_types], **private)
    app.actions = actions
    return app


def logins_for(settings) -> Logins:
    """The logins the settings name: the users file when it exists, else the single UI login."""
    return Logins(Path(settings.users_file) if settings.users_file else None, settings.ui_username,
                  settings.ui_password)


def serve(assistant, host: str = "127.0.0.1", port: int = 7860, *, prevent_thread_lock: bool = False,
          warm_up: bool = True) -> gr.Blocks:
    """Build and launch the app; blocks until interrupted unless `prevent_thread_lock`."""
    settings = assistant.settings
    logins = logins_for(settings)
    limit = RateLimit(settings.rate_limit)
    auth = (lambda name, password: logins.check(name, password) is not None) if logins.required else None
    app = build_app(assistant, logins=logins, limit=limit)
    if auth is None and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without a login; set ui_username and ui_password to require one", host)
    if warm_up:
        threading.Thread(target=app.actions.warm_up, name="warm-up", daemon=True).start()
    app.queue(default_concurrency_limit=concurrency_limit(available_cores()))
    app.launch(server_name=host, server_port=port, auth=auth, auth_message=f"{TITLE}: please sign in.",
               prevent_thread_lock=True, show_error=False, quiet=True, ssr_mode=False, pwa=False,
               mcp_server=False, footer_links=["api"], css=CSS, theme=theme(),
               app_kwargs={"middleware": [Middleware(RequestGuard)]})
    mount(app.server_app, build_api(assistant, logins, limit))
    print(f"council-assistant: serving on {app.local_url}" + (" (login required)" if auth else ""),
          file=sys.stderr, flush=True)
    if not prevent_thread_lock:
        app.block_thread()
    return app


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's limit narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def concurrency_limit(cores: int) -> int:
    """How many events of one kind Gradio runs at once: four per core, at least 8. The work is CPU-bound
    but short (tens of ms), and an LLM reply is a wait, not work: a few waiting calls per core keep
    the cores busy without a slow endpoint holding up every user."""
    return max(8, 4 * cores)


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate",
                             font=[gr.themes.LocalFont("Source Sans Pro"), "system-ui", "Segoe UI", "Arial",
                                   "sans-serif"])
