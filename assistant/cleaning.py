"""Remove extraction artefacts without changing a word.

Handles: a blank line between every line (text pulled out of PDFs), lines hard-wrapped at a fixed
width, hyphenation at line ends, page headers and footers repeated on most pages, and web
boilerplate lines such as "Please follow & like us". Pure functions: text in, text out.
"""
from __future__ import annotations

import re
from collections import Counter

from .structure import starts_item

BOILERPLATE = re.compile(
    r"^(please\s+)?(follow|like)\s*(&|and)\s*(like|share|follow)\s+us[.!]?$"
    r"|^share\s+(this|on\s+\w+)(\s+\w+)?[.!:]?$"
    r"|^(tweet|share|print|email this|print this page)$"
    r"|^(back to top|skip to (main )?content|cookie settings|accept (all )?cookies)$",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_WRAP_FRACTION = 0.6


def clean_text(text: str) -> str:
    """Clean one page (or a whole unpaged document) and return paragraphs joined by blank lines."""
    lines = [_SPACES.sub(" ", line).strip() for line in _normalise(text).split("\n")]
    lines = ["" if BOILERPLATE.match(line) else line for line in lines]
    paragraphs = _paragraphs(lines)
    width = _wrap_width(paragraphs)
    return "\n\n".join(_reflow(p, width) for p in paragraphs)


def clean_pages(pages: list[str]) -> list[str]:
    """Clean each page of a document after dropping headers and footers repeated across pages.

    Never empties a document that has text: when every line is a repeated edge (the same one line on
    every page, say), the lines are the content and are kept.
    """
    repeated = _repeated_edges(pages)
    cleaned = [clean_text(_drop_edges(page, repeated)) for page in pages]
    if repeated and not any(cleaned):
        return [clean_text(page) for page in pages]
    return cleaned


def _normalise(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _paragraphs(lines: list[str]) -> list[list[str]]:
    """Group lines into paragraphs. In double-spaced text a single blank line is only a line break."""
    filled = [i for i, line in enumerate(lines) if line]
    gaps = [(lines[a], b - a - 1) for a, b in zip(filled, filled[1:])]
    single = [line for line, gap in gaps if gap == 1]
    mid_sentence = sum(not re.search(r"[.!?:;\"”')\]]$", line) for line in single)
    double_spaced = len(gaps) >= 5 and len(single) >= 0.6 * len(gaps) and mid_sentence >= 0.5 * len(single)
    break_at = 2 if double_spaced else 1
    paragraphs: list[list[str]] = []
    current: list[str] = []
    blanks = 0
    for line in lines:
        if not line:
            blanks += 1
            continue
        if current and blanks >= break_at:
            paragraphs.append(current)
            current = []
        current.append(line)
        blanks = 0
    if current:
        paragraphs.append(current)
    return paragraphs


def _wrap_width(paragraphs: list[list[str]]) -> int | None:
    """The width at which the text was hard-wrapped, or None when no paragraph spans several lines."""
    wrapped = [len(line) for p in paragraphs if len(p) > 1 for line in p[:-1]]
    if len(wrapped) < 3:
        return None
    wrapped.sort()
    return wrapped[int(0.9 * (len(wrapped) - 1))]


def _reflow(lines: list[str], width: int | None) -> str:
    parts = [lines[0]]
    for prev, line in zip(lines, lines[1:]):
        if re.search(r"[^\W\d_]-$", prev) and line[:1].islower():
            parts[-1] = parts[-1][:-1]
            parts.append(line)
        elif re.search(r"[^\W\d_]-$", prev) and width and len(prev) >= _WRAP_FRACTION * width:
            parts.append(line)
        elif width and len(prev) >= _WRAP_FRACTION * width and not starts_item(line):
            parts.append(" " + line)
        else:
            parts.append("\n" + line)
    return "".join(parts)


def _edge_key(line: str) -> str:
    """Lines compare as equal across pages; short ones (page numbers) also when only numbers differ."""
    key = _SPACES.sub(" ", line).strip().lower()
    return re.sub(r"\d+", "#", key) if len(key) <= 30 else key


def _edge_indexes(lines: list[str]) -> list[int]:
    """Indexes of the lines that may be a header or footer: the first two and the last two."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return filled[:2] + filled[-2:]


def _edge_lines(page: str) -> list[str]:
    lines = page.split("\n")
    return [lines[i] for i in _edge_indexes(lines)]


def _repeated_edges(pages: list[str]) -> set[str]:
    if len(pages) < 3:
        return set()
    counts = Counter(key for page in pages for key in {_edge_key(line) for line in _edge_lines(page)})
    needed = max(3, len(pages) // 2)
    return {key for key, n in counts.items() if key and n >= needed}


def _drop_edges(page: str, repeated: set[str]) -> str:
    if not repeated:
        return page
    lines = page.split("\n")
    edges = set(_edge_indexes(lines))
    return "\n".join(line for i, line in enumerate(lines) if not (i in edges and _edge_key(line) in repeated))
