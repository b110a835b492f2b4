"""What a question says about the paper it wants, read without any index: the councils, dates,
committee, item and title words it names, and its content words and named things by their first six
letters. The retrieval re-ranking (retrieval.py) turns these cues into agreement features.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

from .types import DocumentMeta

_GENERIC_COUNCIL_WORDS = {"council", "borough", "metropolitan", "city", "county", "district", "parish", "town",
                          "village", "community", "of", "the", "and", "royal", "london"}


def named_councils(query: str, councils: list[str]) -> tuple[str, ...]:
    """The councils among `councils` that the query names by their distinctive words ("Northshire" or
    "Northshire's" for "Northshire Council"), as whole words, case-insensitively."""
    lowered = query.lower().replace("’", "'")
    named = []
    for council in councils:
        words = [w for w in re.findall(r"[\w'-]+", re.sub(r"\([^)]*\)", " ", council.lower()))
                 if w not in _GENERIC_COUNCIL_WORDS]
        if words and re.search(r"\b" + r"\s+".join(map(re.escape, words)) + r"(?:'s)?\b", lowered):
            named.append(council)
    return tuple(named)


# -- what a question names: dates, bodies, items ---------------------------------------------------

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_MONTHS.pop("may", None)  # "may" is a verb far more often than a month in questions
_MONTH_WORDS = "|".join(sorted((*_MONTHS, "may"), key=len, reverse=True))
_DATE = re.compile(rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?({_MONTH_WORDS})\b"
                   rf"(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![/-]?\d))?(?:,?\s+(\d{{4}})\b(?![/-]\d))?", re.I)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b(?![/-]\d)")
_FINANCIAL_YEAR = re.compile(r"\b(19\d\d|20\d\d)[/-](\d\d)\b")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_BODY = re.compile(r"\b((?:[A-Z][\w&'’-]*,?\s+(?:(?:and|of|for|&)\s+)?){0,6}(?:Committee|Sub-Committee|Board|"
                   r"Cabinet|Panel|Forum|Commission|Working Group|Scrutiny))\b")
_ITEM = re.compile(r"\b(?:item|agenda item|minute)\s+(?:no\.?\s*)?(\d+(?:\.\d+)?[a-z]?)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("""a about after all also an and any are as at be been before but by can could did do does for
from had has have how if in into is it its many may much of on or our over same should so than that the their
them then there these they this those to up was we were what when where which who whom whose why will with
would year years meeting council councils""".split())


@dataclass(frozen=True)
class QueryCues:
    """What a question names that papers carry as metadata: dates, each (year, month, day) with None
    where that part is not named; bodies ("the Audit Committee"); items ("item 7"); its content words."""

    dates: tuple[tuple[int | None, int | None, int | None], ...] = ()
    bodies: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()


def _month(word: str) -> int | None:
    word = word.lower()
    return 5 if word == "may" else _MONTHS.get(word)


def _dates(query: str) -> tuple[tuple[int | None, int | None, int | None], ...]:
    """Every date `query` names: "2021-06-15", "15 June 2021", "June 15", "February 2025", "January",
    a year alone, and both years of a financial year ("2016/17"). "May" counts as a month only beside
    a day or a year ("7 May", "May 2019")."""
    dates: list[tuple[int | None, int | None, int | None]] = []
    spans: list[tuple[int, int]] = []
    for m in _ISO.finditer(query):
        dates.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
        spans.append(m.span())
    for m in _DATE.finditer(query):
        if any(start <= m.start() < end for start, end in spans):
            continue
        day_before, month, day_after, year = m.groups()
        day = int(day_before or day_after) if (day_before or day_after) else None
        if month.lower() == "may" and day is None and year is None:
            continue
        dates.append((int(year) if year else None, _month(month), day if day and 1 <= day <= 31 else None))
        spans.append(m.span())
    for m in _YEAR.finditer(query):
        if not any(start <= m.start() < end for start, end in spans):
            dates.append((int(m.group(1)), None, None))
    for m in _FINANCIAL_YEAR.finditer(query):
        if any(start <= m.start() < end for start, end in spans):
            continue
        first, second = int(m.group(1)), int(m.group(2))
        dates.append((first, None, None))
        if second == (first + 1) % 100:
            dates.append((first + 1, None, None))
    return tuple(dict.fromkeys(dates))


def query_cues(query: str) -> QueryCues:
    """The date, body and item cues of `query`: "in February 2025", "at the January meeting", "on 15
    June", "the Audit Committee", "item 7" (see `_dates`)."""
    bodies = tuple(dict.fromkeys(b.strip() for b in _BODY.findall(query)))
    items = tuple(dict.fromkeys(i.lower() for i in _ITEM.findall(query)))
    words = frozenset(w for w in _WORD.findall(query.lower()) if w not in _STOP and len(w) > 2)
    return QueryCues(dates=_dates(query), bodies=bodies, items=items, words=words)


def _stem(word: str) -> str:
    return word[:6]


def date_agreement(cues: QueryCues, date: str | None) -> tuple[float, float]:
    """(match, mismatch) of a paper's ISO date with the dates the question names: match 1 when every
    named part (year, month, day) of one of them agrees, mismatch 1 when none does; both 0 when the
    question names no date or the paper has none."""
    if not cues.dates or not date or not re.match(r"\d{4}-\d{2}-\d{2}", date):
        return 0.0, 0.0
    have = (int(date[:4]), int(date[5:7]), int(date[8:10]))
    agrees = any(all(want is None or want == got for want, got in zip(named, have)) for named in cues.dates)
    return (1.0, 0.0) if agrees else (0.0, 1.0)


def body_agreement(cues: QueryCues, meta: DocumentMeta) -> float:
    """Share of the words of the bodies the question names ("Audit Committee") found in the paper's
    committee and title; 0 when it names none."""
    if not cues.bodies:
        return 0.0
    wanted = {_stem(w) for b in cues.bodies for w in _WORD.findall(b.lower()) if w not in _STOP}
    have = {_stem(w) for w in _WORD.findall(f"{meta.committee or ''} {meta.title}".lower())}
    return len(wanted & have) / len(wanted) if wanted else 0.0


def item_agreement(cues: QueryCues, text: str, title: str) -> float:
    """1 when the chunk or title carries an item the question names ("item 7": "Item 7", "7." or "7)"
    starting a line), else 0."""
    for item in cues.items:
        number = re.escape(item)
        if re.search(rf"(?i)\bitem\s+{number}\b", f"{title}\n{text}") or re.search(
                rf"(?m)^\s*{number}[.)]?\s+[A-Z]", text):
            return 1.0
    return 0.0


def title_overlap(cues: QueryCues, meta: DocumentMeta) -> float:
    """Share of the question's content words (by their first six letters) in the paper's title and
    committee."""
    if not cues.words:
        return 0.0
    have = {_stem(w) for w in _WORD.findall(f"{meta.title} {meta.committee or ''}".lower())}
    return sum(_stem(w) in have for w in cues.words) / len(cues.words)


_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]+(?:['’]s)?|[A-Z]{2,})\b")


def content_words(text: str) -> list[str]:
    """The words of `text` that carry content, by their first six letters, in order."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2]


def named_words(query: str) -> set[str]:
    """The capitalised words of `query` not at its start, and not months: the named things it asks
    about (a company, an orchestra's initials, a ground), by their first six letters."""
    return {_stem(w.lower().replace("’s", "").replace("'s", "")) for w in _NAME.findall(query)
            if w.lower() not in _MONTHS and w.lower() not in _STOP}
