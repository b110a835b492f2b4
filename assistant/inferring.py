"""Metadata for a paper the manifest says nothing about, read from how councils head their papers.

Councils head a paper the same few ways: the body's name ("… Parish Council", "Audit Committee"), the
kind of paper ("MINUTES OF THE … MEETING", "Agenda & Summons", "Statement of Accounts") and the meeting
date ("ON 26th October 2023", "TUESDAY- -JUNE 15, 2021", "Date: 22 October 2009"). This module reads
those from the first lines of the first page and, failing that, a date written in the file name. Every
field it fills is listed in `Inferred.fields` so that citations and the Library can say it was inferred;
the manifest always wins over anything here.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

HEAD_LINES = 12
"""How many non-empty lines of the first page count as the paper's heading."""

BODY_LINES = 5
"""How many of those may name the committee or council: later lines are the paper's own text."""

HEADING_CHARS = 160
"""Longer lines are the paper's text, not headings; so are shorter lines of several sentences."""

SENTENCES = re.compile(r"[a-z]\. +[A-Z]")

HEAD_CHARS = 1500
"""Bound on the heading's length: a first page without line breaks is not read to its end."""

TITLE_CHARS = 150

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1) for name in names}

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_GAP = r"[\s,\-–]+"
DATE_FORMS = (
    re.compile(rf"\b{_DAY}(?:\s+of)?{_GAP}{_MONTH}{_GAP}{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}{_GAP}{_DAY}{_GAP}{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>[01]\d)-(?P<day>[0-3]\d)\b"),
    re.compile(r"\b(?P<day>[0-3]?\d)[/.](?P<month>[01]?\d)[/.](?P<year>(?:19|20)\d\d)\b"),
)
"""Written dates, most common first: "26th October 2023", "June 15, 2021", ISO, and UK "26/10/2023"."""

PREVIOUS_MEETING = re.compile(r"(?:last|previous|held on the|minutes of the meeting held)\W+(?:\w+\W+){0,3}$",
                              re.IGNORECASE)
"""Words just before a date that make it another meeting's ("the minutes of the meeting held on …")."""

KINDS = (
    ("report", re.compile(r"\bagenda item \d+|\bpurpose of (?:the |this )?report\b", re.IGNORECASE)),
    ("minutes", re.compile(r"\bminutes\b", re.IGNORECASE)),
    ("agenda", re.compile(r"\bagenda\b|\bsummons\b|notice of (?:the )?meeting|\bwill be held\b",
                          re.IGNORECASE)),
    ("budget", re.compile(r"\bbudget\b|\baccounts\b|\bannual return\b|\bprecept\b|\bexpenditure\b",
                          re.IGNORECASE)),
    ("policy", re.compile(r"\bpolicy\b|\bregulations\b|\bstanding orders\b|\bcode of conduct\b",
                          re.IGNORECASE)),
    ("press-release", re.compile(r"\bpress release\b|\bnews release\b|\bfor immediate release\b",
                                 re.IGNORECASE)),
    ("report", re.compile(r"\breport\b|\bupdate\b", re.IGNORECASE)),
    ("letter", re.compile(r"^\s*dear\b", re.IGNORECASE | re.MULTILINE)),
    ("notice", re.compile(r"\bnotice\b", re.IGNORECASE)),
)
"""Kinds of paper, as the manifest's `doc_type` names them, and the heading words that give each away.
The earliest match in the heading wins; the order breaks ties on one line."""

COMMITTEE = re.compile(
    r"\b((?:[A-Z][\w&’'()-]* +(?:and +|& +|of +(?:the +)?)?){0,5}"
    r"(?i:Sub-Committee|Committee|Cabinet|Scrutiny(?: +\w+)?|Panel|Board|Forum))\b")
"""A named committee in a heading: up to five capitalised words before "Committee", "Cabinet", …"""

COUNCIL = re.compile(
    r"\b((?:(?!(?i:of|the|minutes|meeting|agenda|held|in|at|to|and|special|extraordinary|annual|"
    r"ordinary|regular|joint|adjourned)\b)[A-Z][\w’'-]* +(?:of +)?){1,4}"
    r"(?i:parish +|town +|city +|district +|county +|borough +|community +)?(?i:council))\b")
"""A council's name: capitalised words ending in "(Parish|Town|…) Council"."""

FULL_COUNCIL = re.compile(r"\b(?:meeting of (?:the )?\w+(?:\s+\w+)?\s+council|council meeting|"
                          r"(?:parish|town|city|district|county|borough) council\s+(?:meeting|-))",
                          re.IGNORECASE)
"""A heading of the council's own meeting rather than one of its committees'."""

KIND_PREFIX = re.compile(r"^(?:(?:minutes|agenda|report|notice|meeting|summons)\s+(?:of|to|for)\s+|the\s+|of\s+|a\s+)+",
                         re.IGNORECASE)
"""Words before a committee's name that say what the paper is ("Minutes of the Audit Committee")."""

FILE_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)(?!\d)")

_GENERIC_COUNCIL = re.compile(r"^(?:the\s+)?(?:parish|town|city|district|county|borough)?\s*council$",
                              re.IGNORECASE)


@dataclass(frozen=True)
class Inferred:
    """Metadata read from a paper's heading; `fields` names those that were found."""

    title: str | None = None
    date: str | None = None
    doc_type: str | None = None
    committee: str | None = None
    council: str | None = None
    fields: tuple[str, ...] = field(default=())


def infer(first_page: str, file_name: str) -> Inferred:
    """Title, meeting date, kind of paper, committee and council from a paper's first page."""
    lines = heading_lines(first_page)
    head = "\n".join(lines)
    doc_type = infer_kind(head)
    found = {
        "title": infer_title(lines),
        "date": infer_date(head) or date_in_name(file_name),
        "doc_type": doc_type,
        "committee": infer_committee("\n".join(lines[:BODY_LINES]), doc_type),
        "council": infer_council("\n".join(lines[:BODY_LINES])),
    }
    found["title"] = composed_title(found) or found["title"]
    return Inferred(**found, fields=tuple(name for name, value in found.items() if value))


def heading_lines(first_page: str) -> list[str]:
    """The first non-empty lines of a page, whitespace-normalised, within `HEAD_CHARS`."""
    lines = []
    for line in first_page[:HEAD_CHARS].splitlines():
        line = " ".join(line.split())
        if line:
            lines.append(line)
        if len(lines) == HEAD_LINES:
            break
    return lines


def infer_date(head: str) -> str | None:
    """The earliest valid date in the heading that is not another meeting's, as ISO."""
    found = []
    for form in DATE_FORMS:
        for match in form.finditer(head):
            if PREVIOUS_MEETING.search(head[max(0, match.start() - 60):match.start()]):
                continue
            date = _date(match)
            if date:
                found.append((match.start(), date))
    return min(found)[1] if found else None


def date_in_name(file_name: str) -> str | None:
    """A date written in a file name as YYYY-MM-DD (or without separators), if it is a real date."""
    for match in FILE_DATE.finditer(file_name):
        try:
            return dt.date(*map(int, match.groups())).isoformat()
        except ValueError:
            continue
    return None


def _date(match: re.Match) -> str | None:
    month = match["month"]
    number = int(month) if month.isdigit() else MONTHS.get(month.lower().rstrip("."))
    try:
        return dt.date(int(match["year"]), number or 0, int(match["day"])).isoformat()
    except ValueError:
        return None


def infer_kind(head: str) -> str | None:
    """The kind of paper whose giveaway word comes first in the heading."""
    found = [(match.start(), order, kind) for order, (kind, pattern) in enumerate(KINDS)
             if (match := pattern.search(head))]
    return min(found)[2] if found else None


def infer_committee(head: str, doc_type: str | None) -> str | None:
    """A named committee in the heading; "Full Council" for minutes or agendas of the council itself."""
    for match in COMMITTEE.finditer(head):
        name = " ".join(match.group(1).split())
        council = infer_council(name)
        if council and name.startswith(council):
            name = name[len(council):].strip()
        name = KIND_PREFIX.sub("", name)
        if len(name.split()) > 1 or name.lower() == "cabinet":
            return _cased(name)
    if FULL_COUNCIL.search(head) or (doc_type in {"minutes", "agenda"} and infer_council(head)):
        return "Full Council"
    return None


def infer_council(head: str) -> str | None:
    """The first council named in the heading, without a leading "the"."""
    for match in COUNCIL.finditer(head):
        name = " ".join(match.group(1).split())
        if not _GENERIC_COUNCIL.match(name):
            return _cased(name)
    return None


def composed_title(found: dict) -> str | None:
    """"Minutes of the Audit Committee meeting, 22 October 2009": for minutes and agendas, whose own
    headings are often a form's words ("Agenda & Summons to Councillors …"), the kind, body and date
    say which paper it is."""
    kind, date = found["doc_type"], found["date"]
    committee = found["committee"] if found["committee"] != "Full Council" else None
    body = committee or found["council"]
    if kind not in {"minutes", "agenda"} or not body or not date:
        return None
    day = dt.date.fromisoformat(date)
    return f"{kind.capitalize()} of the {body} meeting, {day.day} {day:%B %Y}"


def infer_title(lines: list[str]) -> str | None:
    """The first heading line that names a kind of paper, else the first line that reads as a title.

    Letterhead lines (addresses, telephone numbers), lines that are only a date, and sentences of the
    text are passed over."""
    usable = []
    for line in lines:
        if len(line) > HEADING_CHARS or (len(line) > HEADING_CHARS // 2 and SENTENCES.search(line)):
            break
        if _title_like(line):
            usable.append(line)
    for line in usable[:BODY_LINES]:
        if any(pattern.search(line) for _, pattern in KINDS):
            return _cased(line[:TITLE_CHARS].strip(" -–:"))
    return _cased(usable[0][:TITLE_CHARS].strip(" -–:")) if usable else None


def _title_like(line: str) -> bool:
    digits = sum(ch.isdigit() for ch in line)
    letters = sum(ch.isalpha() for ch in line)
    return letters >= 8 and digits <= letters and not re.match(r"^(?:tel|mobile|phone|e-?mail|www)\b",
                                                                line, re.IGNORECASE)


def _cased(text: str) -> str:
    """Text in capitals as a title ("AUDIT COMMITTEE" → "Audit Committee"); other text as written."""
    return text.title() if text.isupper() else text
