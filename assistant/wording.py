"""Plain words for what people are shown: dates as they write them ("28 Sep 2021"), an estimated date
as an estimate ("about May 2022"), a document type as words. Used by the HTML builders (ui_html) and by
the texts a user copies or exports (export), so both say the same.
"""
from __future__ import annotations

import datetime as dt
import re

from .types import DocumentMeta


def date_text(iso: str | None) -> str:
    """An ISO date as people write it ("28 Sep 2021"); "undated" when there is none; text that is not
    an ISO date as it is."""
    if not iso:
        return "undated"
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day:%b %Y}"


def shown_date(meta: DocumentMeta) -> str:
    """The paper's date in words; an estimated one (the manifest gives a `date_note` saying how it was
    estimated) reads "about 23 Aug 2021", or "about May 2022" when the first of a month stands for the
    month."""
    if "date" in meta.inferred:
        return f"{date_text(meta.date)} (inferred)"
    if not meta.date_note or not meta.date:
        return date_text(meta.date)
    try:
        day = dt.date.fromisoformat(meta.date)
    except ValueError:
        return f"about {meta.date}"
    return f"about {day:%B %Y}" if day.day == 1 else f"about {date_text(meta.date)}"


def type_label(doc_type: str) -> str:
    """A document type slug in words: "cabinet-member-update" -> "Cabinet member update"."""
    words = " ".join(re.split(r"[-_\s]+", doc_type.strip()))
    return words[:1].upper() + words[1:]
