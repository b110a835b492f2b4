"""The Search and Library views' builders: table rows for wide screens and cards for phones (static/ui.css
switches between them at 700 px), dates and types in words, every piece of paper text escaped.
"""
from __future__ import annotations

import html
from typing import Sequence

from .types import DocumentMeta, Passage
from .ui_html import cite_attrs
from .wording import shown_date, type_label

SEARCH_HEADERS = ["Rank", "Title", "Date", "Type", "Page", "Score", "Passage"]
LIBRARY_HEADERS = ["Title", "Date", "Type", "Committee", "Passages"]
# Column types: only the date is HTML (table_date_html, escaped), so that an estimate shows its reason on hover.
SEARCH_TYPES = ["number", "str", "html", "str", "str", "number", "str"]
LIBRARY_TYPES = ["str", "html", "str", "str", "number"]
CARD_PASSAGE_CHARS = 320  # a search card shows the passage's opening, cut at a word; the paper has the rest
LIBRARY_CARDS = 500  # papers the phone's library lists as cards; the table and search reach the others
_esc = html.escape


def library_summary_md(documents: Sequence[tuple[DocumentMeta, int]]) -> str:
    total = sum(chunks for _, chunks in documents)
    return f"**{len(documents)}** papers indexed in **{total}** passages. Select a paper to read it."


def table_date_html(meta: DocumentMeta) -> str:
    """The paper's date in words for a table's HTML date column: escaped, and an estimated one carries
    its reason on hover (the cards fold it out on a tap)."""
    text = _esc(shown_date(meta))
    if not meta.date_note or not meta.date:
        return text
    return f'<span class="ca-estimated" title="{_esc(f"Estimated date: {meta.date_note}")}">{text}</span>'


def search_rows(passages: Sequence[Passage]) -> list[list]:
    """The search table's rows (SEARCH_HEADERS): dates (HTML, SEARCH_TYPES) and types in words, the
    passage on one line."""
    return [[p.rank, p.meta.title, table_date_html(p.meta), type_label(p.meta.doc_type), p.chunk.page or "",
             round(p.score, 3), " ".join(p.chunk.text.split())] for p in passages]


def _inferred(meta: DocumentMeta, name: str, shown: str) -> str:
    """`shown`, marked "(inferred)" when the field was read from the paper because no manifest entry gives it."""
    return f"{shown} (inferred)" if shown and name in meta.inferred else shown


def library_rows(documents: Sequence[tuple[DocumentMeta, int]]) -> list[list]:
    """One row per paper (LIBRARY_HEADERS, the date as HTML: LIBRARY_TYPES); a field read from the paper
    itself says "(inferred)"."""
    return [[_inferred(m, "title", m.title), table_date_html(m), _inferred(m, "doc_type", type_label(m.doc_type)),
             _inferred(m, "committee", m.committee or ""), chunks] for m, chunks in documents]


def card_date_html(meta: DocumentMeta) -> str:
    """The paper's date in words for a card; an estimated one folds out its reason on a tap (a phone has
    no hover) and shows it on hover too, as a disclosure that keyboards and screen readers can open."""
    text = _esc(shown_date(meta))
    if not meta.date_note or not meta.date:
        return f'<span class="ca-date">{text}</span>'
    note = _esc(f"Estimated date: {meta.date_note}")
    return (f'<details class="ca-estimate"><summary class="ca-estimated" title="{note}">{text}</summary>'
            f'<span class="ca-estimate-note">{note}</span></details>')


def opening(text: str, limit: int = CARD_PASSAGE_CHARS) -> str:
    """`text` on one line, cut at a word before `limit` characters with "…" when longer."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[:cut if cut > 0 else limit].rstrip(" ,;:") + "…"


def _card_meta(meta: DocumentMeta, parts: Sequence[str]) -> str:
    return (f'<div class="ca-meta ca-card-meta">{card_date_html(meta)}'
            f'{"".join(f" · <span>{_esc(p)}</span>" for p in parts if p)}</div>')


def search_card_html(passage: Passage) -> str:
    """One search result as a card: the title (a button that opens the paper at the passage), date, type,
    committee, item, page and the passage's opening."""
    meta, chunk = passage.meta, passage.chunk
    page = f"page {chunk.page}" if chunk.page else ""
    parts = [type_label(meta.doc_type), meta.committee or "", meta.heading_at(chunk.start) or "", page]
    label = f"Open {meta.title} at this passage"
    return (f'<li class="ca-card ca-result-card"><h3><button type="button" class="ca-open ca-card-title" '
            f'{cite_attrs(meta.doc_id, chunk.start, chunk.end)} aria-label="{_esc(label)}">{_esc(meta.title)}</button></h3>'
            f'{_card_meta(meta, parts)}<p class="ca-passage">{_esc(opening(chunk.text))}</p></li>')


def search_cards_html(passages: Sequence[Passage]) -> str:
    """The search results as cards, best first: what narrow screens (phones) show instead of the table
    (static/ui.css switches between them at 700 px)."""
    cards = "".join(search_card_html(p) for p in passages)
    return f'<div class="ca-html ca-cards"><ol class="ca-result-cards" aria-label="Search results">{cards}</ol></div>'


def library_card_html(meta: DocumentMeta, chunks: int) -> str:
    committee = _inferred(meta, "committee", meta.committee or "")
    parts = [_inferred(meta, "doc_type", type_label(meta.doc_type)), committee,
             f"{chunks} passage{'s' if chunks != 1 else ''}"]
    return (f'<li class="ca-card ca-result-card"><h3><button type="button" class="ca-open ca-card-title" '
            f'data-doc="{_esc(meta.doc_id)}">{_esc(_inferred(meta, "title", meta.title))}</button></h3>'
            f"{_card_meta(meta, parts)}</li>")


def library_cards_html(documents: Sequence[tuple[DocumentMeta, int]], limit: int = LIBRARY_CARDS) -> str:
    """The library as cards for narrow screens (phones), the first `limit` papers in library order; a
    note says how to reach the rest."""
    cards = "".join(library_card_html(m, chunks) for m, chunks in documents[:limit])
    more = (f'<p class="ca-small">The first {limit} of {len(documents)} papers; search to find the others.</p>'
            if len(documents) > limit else "")
    return f'<div class="ca-html ca-cards"><ol class="ca-result-cards" aria-label="Papers">{cards}</ol>{more}</div>'

