"""Find the structure councils give their minutes and agendas: numbered items and motions.

An item is a line that starts with an item reference: a dotted or slashed number (`18.01.1`,
`10.23.01`, `37/18`), a bracketed reference (`(23-367)`), a prefixed one (`Item 5`, `Minute 123`,
`Min 37/18`), or a plain number (`7.`, `52`) on a heading-length line whose numbers run upwards.
Its title is the rest of the line up to the end of its first sentence (at most TITLE_WORDS words).
Only line starts count, so a reference in running text ("as minuted at 37/18") is never a heading.
Motions are RESOLVED/AGREED, proposed/seconded/carried wording and votes (For/Against/Abstain
counts, Ayes/Noes roll calls). Pure functions over text; limits: numbering that runs across
several lines or tables of contents with page numbers are read as they stand.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TITLE_WORDS = 12
_HEADING_LINE_WORDS = 20
_PREFIXED = re.compile(r"(?P<word>Item|Agenda item|Minute|Min\.?)\s+(?P<ref>\d{1,4}(?:[./-]\d{1,4}){0,3}[a-z]?)"
                       r"[.:)]?\s+(?P<rest>\S.*)", re.IGNORECASE)
_BRACKETED = re.compile(r"\((?P<ref>\d{1,4}-\d{1,4}(?:\s?[A-Z])?)\)\s+(?P<rest>\S.*)")
_DOTTED = re.compile(r"(?P<ref>\d{1,3}(?:[./]\d{1,3}){1,3})[.:)]?\s+(?P<rest>[A-Z(].*)")
_PLAIN = re.compile(r"(?P<ref>\d{1,3})(?:[.)])?\s+(?P<rest>[A-Z].*)")
_CONNECTORS = {"of", "and", "the", "for", "to", "from", "on", "in", "with", "at", "by", "a", "an", "&", "-",
               "or", "re", "regarding"}


@dataclass(frozen=True)
class Item:
    """A numbered item: its reference as printed, its title, and where its heading line starts and
    ends in the text (the item runs to the next item's start)."""

    ref: str
    title: str
    start: int
    end: int

    @property
    def label(self) -> str:
        """"Item 37/18 Appointment of Internal Auditor"."""
        return f"Item {self.ref} {self.title}".strip()


@dataclass(frozen=True)
class Motion:
    """A decision or vote found in the text: kind is resolved, agreed, proposed, seconded, carried,
    lost or vote; a vote has its counts (None where the text gives none)."""

    kind: str
    start: int
    end: int
    votes_for: int | None = None
    votes_against: int | None = None
    abstentions: int | None = None


def find_items(text: str) -> list[Item]:
    """The numbered items of `text`, in order of position."""
    items: list[Item] = []
    last_plain = 0
    for line in re.finditer(r"[^\n]+", text):
        body = line.group().strip()
        offset = line.start() + (len(line.group()) - len(line.group().lstrip()))
        match = _PREFIXED.match(body) or _BRACKETED.match(body) or _DOTTED.match(body)
        if match is None:
            plain = _PLAIN.match(body)
            if plain is None or not _plain_heading(plain, body, last_plain):
                continue
            match = plain
            last_plain = int(plain.group("ref"))
        if _DOTTED.match(body) and _looks_like_date_or_figure(match.group("ref")):
            continue
        title = _title(match.group("rest"))
        if not title:
            continue
        items.append(Item(ref=match.group("ref"), title=title, start=offset, end=line.end()))
    return sorted(items + _run_in_items(text, items), key=lambda item: item.start)


def _run_in_items(text: str, items: list[Item]) -> list[Item]:
    """Three-part references ("10.23.02 Declarations of interest") that text extraction ran into the
    end of the previous line, for the prefixes ("10.23.") that items at line starts already use."""
    prefixes = {item.ref.rsplit(".", 1)[0] + "." for item in items if item.ref.count(".") == 2}
    known = {item.ref for item in items}
    found = []
    for prefix in prefixes:
        for match in re.finditer(rf"(?<=\S )(?P<ref>{re.escape(prefix)}\d{{1,3}})\s+(?P<rest>[A-Z][^\n]*)", text):
            title = _title(match.group("rest"))
            if match.group("ref") not in known and title:
                found.append(Item(match.group("ref"), title, match.start(), match.end()))
                known.add(match.group("ref"))
    return found


def starts_item(line: str) -> bool:
    """Whether `line` opens a numbered item (a plain number only on a short line), so that a wrapped
    paragraph is never joined to it."""
    body = line.strip()
    if _PREFIXED.match(body) or _BRACKETED.match(body):
        return True
    dotted = _DOTTED.match(body)
    if dotted and not _looks_like_date_or_figure(dotted.group("ref")):
        return True
    return _PLAIN.match(body) is not None and len(body.split()) <= 8


def _plain_heading(match: re.Match, line: str, last: int) -> bool:
    """A plain-number line is a heading when it is heading-length and its number follows the last
    plain one (or starts a new run at 1; the first may be any number on a short line)."""
    number = int(match.group("ref"))
    if len(line.split()) > _HEADING_LINE_WORDS:
        return False
    if last == 0:
        return number == 1 or len(line.split()) <= 8
    return number == 1 or last < number <= last + 10


def _looks_like_date_or_figure(ref: str) -> bool:
    """A one-digit decimal ("3.5 Tonnes") reads as a figure, not an item."""
    parts = re.split(r"[./]", ref)
    return len(parts) == 2 and "." in ref and len(parts[1]) == 1 and len(parts[0]) == 1


def _title(rest: str) -> str:
    """The heading's title: up to the end of its first sentence, at most TITLE_WORDS words, and cut
    before a capitalised word that starts running text ("Finance The following accounts ...")."""
    words = rest.split()
    title: list[str] = []
    for index, word in enumerate(words[:TITLE_WORDS]):
        following = words[index + 1] if index + 1 < len(words) else ""
        if (title and word[:1].isupper() and following[:1].islower()
                and following.lower().strip(",.;:") not in _CONNECTORS and len(words) > len(title) + 2
                and title[-1].lower() not in _CONNECTORS and word in _SENTENCE_STARTS):
            break
        title.append(word)
        if word.endswith((".", ":", ";")) and not re.fullmatch(r"[A-Z][a-z]{0,3}\.", word):
            break
    return " ".join(title).rstrip(".:;,–- ")


_SENTENCE_STARTS = {"The", "There", "It", "This", "These", "A", "An", "All", "No", "Members", "Councillors",
                    "Council", "Committee", "Resolved", "RESOLVED", "Agreed", "AGREED", "We", "He", "She",
                    "They", "Apologies", "Following", "After", "Planning"}

_VOTE = re.compile(
    r"(?P<for>\d{1,3})\s*(?:votes?\s*)?(?:in favour|for)\b[^\n.]{0,40}?(?P<against>\d{1,3})\s*(?:votes?\s*)?against"
    r"(?:[^\n.]{0,40}?(?P<abstain>\d{1,3})\s*abstentions?)?"
    r"|\bfor\s*[:\-–]?\s*(?P<for2>\d{1,3})\W{1,4}against\s*[:\-–]?\s*(?P<against2>\d{1,3})"
    r"(?:\W{1,4}abstain(?:ed|ing|tions?)?\s*[:\-–]?\s*(?P<abstain2>\d{1,3}))?"
    r"|\bcarried\s+(?P<for3>\d{1,3})\s*[–\-:]\s*(?P<against3>\d{1,3})",
    re.IGNORECASE)
_ROLL_CALL = re.compile(r"\bAyes\b\s*:(?:[^\n.]*?[–-])?\s*(?P<for>\d{1,3})\b"
                        r"(?:[.;,]?\s*\bNoes\b\s*:(?:[^\n.]*?[–-])?\s*(?P<against>\d{1,3})\b)?"
                        r"(?:[.;,]?\s*\bAbstentions?\b\s*:(?:[^\n.]*?[–-])?\s*(?P<abstain>\d{1,3})\b)?")
_WORDS = [("resolved", re.compile(r"\bRESOLVED\b|\b(?:it was|committee|council|councillors?)\s+resolved\b", re.I)),
          ("agreed", re.compile(r"\bAGREED\b|\b(?:it was|all|unanimously|councillors?)\s+agreed\b", re.I)),
          ("proposed", re.compile(r"\bproposed by\b|\bmoved by\b|\bmade the motion\b|\bmoved (?:approval|adoption)\b",
                                  re.I)),
          ("seconded", re.compile(r"\bseconded\b", re.I)),
          ("carried", re.compile(r"\b(?:motion\s+)?carried\b|\bunanimous(?:ly)?\b", re.I)),
          ("lost", re.compile(r"\bmotion (?:was )?(?:lost|failed|defeated)\b", re.I))]


def find_motions(text: str) -> list[Motion]:
    """Decisions (RESOLVED, AGREED, proposed/seconded/carried wording) and votes with their counts,
    in order of position; a roll call ("Ayes: ... – 3. Noes: ... – 2") is one vote."""
    found: list[Motion] = []
    for match in _ROLL_CALL.finditer(text):
        found.append(Motion("vote", match.start(), match.end(), _int(match.group("for")),
                            _int(match.group("against")), _int(match.group("abstain"))))
    taken = [(m.start, m.end) for m in found]
    for match in _VOTE.finditer(text):
        if any(s <= match.start() < e for s, e in taken):
            continue
        groups = match.groupdict()
        found.append(Motion("vote", match.start(), match.end(),
                            _int(groups["for"] or groups["for2"] or groups["for3"]),
                            _int(groups["against"] or groups["against2"] or groups["against3"]),
                            _int(groups["abstain"] or groups["abstain2"])))
    for kind, pattern in _WORDS:
        found.extend(Motion(kind, m.start(), m.end()) for m in pattern.finditer(text))
    return sorted(found, key=lambda m: (m.start, m.kind))


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def item_at(items: list[Item], offset: int) -> Item | None:
    """The item whose part of the text holds `offset` (None before the first item)."""
    current = None
    for item in items:
        if item.start > offset:
            break
        current = item
    return current
