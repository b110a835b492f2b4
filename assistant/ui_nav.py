"""Where the browser app is, as a URL fragment: `#chat`, `#search`, `#library`, `#watches` for the tabs and
`#doc=<doc_id>&start=<n>&end=<n>&page=<n>` for an opened document (start/end: the highlighted span,
page: the original PDF page shown beside the text). static/nav.js writes these fragments into the
browser's history as the user moves, so Back/Forward and shared links work; this module reads them
back on the server and marks each document view with the fragment that reopens it.

Only the doc_id and the numbers are taken from a fragment: the document is then found through the
Assistant's index like any other (an id it does not know gets a plain message), so a URL never
reaches the file system.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

TABS = ("chat", "search", "library", "watches")
DOCUMENT_TAB = "document"
MAX_FRAGMENT = 2000  # characters read from a fragment; doc_ids are far shorter


@dataclass(frozen=True)
class Location:
    """One view of the app: a tab, or (tab "document") a document with an optional span and page."""

    tab: str = "chat"
    doc_id: str | None = None
    start: int | None = None
    end: int | None = None
    page: int | None = None


def parse_fragment(fragment: str | None) -> Location:
    """The view a URL fragment names (with or without its "#"); anything unreadable is the Chat tab, so a
    mangled link still opens the app."""
    text = (fragment or "").lstrip("#")[:MAX_FRAGMENT]
    if text in TABS:
        return Location(tab=text)
    fields = parse_qs(text, keep_blank_values=False)
    doc_id = (fields.get("doc") or [""])[0]
    if not doc_id:
        return Location()
    start, end, page = (_number(fields, name) for name in ("start", "end", "page"))
    if start is None or end is None or end < start:
        start = end = None
    return Location(tab=DOCUMENT_TAB, doc_id=doc_id, start=start, end=end, page=page)


def document_fragment(doc_id: str, start: int | None = None, end: int | None = None,
                      page: int | None = None) -> str:
    """The fragment that reopens a document view (the inverse of `parse_fragment`)."""
    fields = {"doc": doc_id}
    if start is not None and end is not None:
        fields.update(start=str(start), end=str(end))
    if page is not None:
        fields["page"] = str(page)
    return "#" + urlencode(fields)


def located_html(view: str, doc_id: str, start: int | None = None, end: int | None = None,
                 page: int | None = None) -> str:
    """A document view (or the notice shown instead of one) marked with the fragment that reopens it,
    which nav.js puts in the address bar."""
    fragment = html.escape(document_fragment(doc_id, start, end, page), quote=True)
    return f'<div class="ca-doc-view" data-fragment="{fragment}">{view}</div>'


def _number(fields: dict[str, list[str]], name: str) -> int | None:
    value = (fields.get(name) or [""])[0]
    return int(value) if value.isdigit() and len(value) < 12 else None
