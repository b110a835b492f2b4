"""Pure HTML builders for two panels of the browser app: the Watches tab (each watch with the passages
of new papers that matched it) and the chips that name the active chat filters. Escaped like every
builder in `ui_html`, whose date and type wording they share.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

from .ui_html import _esc, cite_attrs, date_text, type_label

if TYPE_CHECKING:
    from .watches import Match, Watch


def quote_span(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text`, white space matched loosely (a watch match keeps its passage
    on one line, cut with "…"); None when it is not there."""
    words = quote.rstrip("\u2026").split()
    if not words:
        return None
    found = re.search(r"\s+".join(re.escape(w) for w in words[:60]), text)
    return (found.start(), found.end()) if found else None


WATCHES_EMPTY = ("No watches yet. A watch is a standing search: the person who runs the assistant adds one with "
                 "<code>council-assistant watch add \"QUERY\"</code>, and each time new papers are added, the "
                 "passages that match it are listed here.")


def watch_match_html(match: "Match", span: tuple[int, int] | None) -> str:
    start, end = span if span else (0, 0)
    where = f" · page {match.page}" if match.page else ""
    committee = f" · {match.committee}" if match.committee else ""
    return (f'<li class="ca-card ca-watch-match"><h4>{_esc(match.title)}</h4>'
            f'<p class="ca-meta">{_esc(date_text(match.date))} · {_esc(type_label(match.doc_type))}{_esc(committee)}'
            f"{_esc(where)} · found {_esc(date_text(match.found[:10]))}</p>"
            f'<blockquote class="ca-passage">{_esc(match.quote)}</blockquote>'
            f'<button type="button" class="ca-open" {cite_attrs(match.doc_id, start, end)}>'
            "Open the paper at this passage →</button></li>")


def watches_html(groups: Sequence[tuple["Watch", Sequence[tuple["Match", tuple[int, int] | None]]]],
                 signed_in: str | None = None) -> str:
    """The Watches panel: each watch (its words and filters) with the passages of newly added papers
    that matched it, newest first; an honest empty state."""
    who = f" for {_esc(signed_in)}" if signed_in else ""
    head = (f'<h2>Watches{who}</h2><p class="ca-small">Passages of papers added since a watch was set that match '
            "it; papers indexed before the watch are not searched. Matches are found when new papers are "
            "added.</p>")
    if not groups:
        return f'<div class="ca-html ca-watches">{head}<p>{WATCHES_EMPTY}</p></div>'
    sections = []
    for watch, matches in groups:
        filters = [type_label(t) for t in watch.doc_types] + ([f"committee: {watch.committee}"] if watch.committee else [])
        owner = f"set for {watch.user}" if watch.user else "shared with every user"
        meta = " · ".join([f"“{watch.query}”", *filters, f"since {date_text(watch.created)}", owner])
        count = f"{len(matches)} match{'es' if len(matches) != 1 else ''}"
        body = (f'<ol class="ca-watch-matches">{"".join(watch_match_html(m, span) for m, span in matches)}</ol>'
                if matches else '<p class="ca-small">No new papers have matched this watch yet.</p>')
        sections.append(f'<section class="ca-watch"><h3>{_esc(watch.name)} <span class="ca-small">({count})</span></h3>'
                        f'<p class="ca-meta">{_esc(meta)}</p>{body}</section>')
    return f'<div class="ca-html ca-watches">{head}{"".join(sections)}</div>'


def filter_words(since: str | None, until: str | None, doc_types: Sequence[str]) -> list[str]:
    """The active chat filters in words ("From 1 Sep 2021", "To 31 Dec 2021", "Press release"), from ISO
    dates and type slugs."""
    words = []
    if since:
        words.append(f"From {date_text(since)}")
    if until:
        words.append(f"To {date_text(until)}")
    return words + [type_label(t) for t in doc_types]


def filter_note(since: str | None, until: str | None, doc_types: Sequence[str]) -> str | None:
    """What an answer says when filters limited the papers it was drawn from (None without filters)."""
    if not (since or until or doc_types):
        return None
    dated = ""
    if since and until:
        dated = f" dated {date_text(since)} to {date_text(until)}"
    elif since:
        dated = f" dated from {date_text(since)}"
    elif until:
        dated = f" dated up to {date_text(until)}"
    kinds = f" of these types: {', '.join(type_label(t) for t in doc_types)}" if doc_types else ""
    return f"Filtered: only papers{dated}{kinds} were searched."


def filter_chips_html(words: Sequence[str], problem: str | None = None) -> str:
    """Chips above the conversation naming the active filters, so they show with the filter panel
    closed, and a button that clears them; nothing when no filter is on."""
    if not words and not problem:
        return '<div class="ca-chips" hidden></div>'
    chips = "".join(f'<span class="ca-chip">{_esc(w)}</span>' for w in words)
    trouble = f'<span class="ca-chip ca-chip-problem">{_esc(problem)}</span>' if problem else ""
    return (f'<div class="ca-chips" role="group" aria-label="Active filters"><span class="ca-small">Filters on:</span>'
            f'{chips}{trouble}<button type="button" class="ca-open" data-clear-filters>Clear filters</button></div>')
