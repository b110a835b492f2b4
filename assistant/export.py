"""What a user takes away: search results as CSV (written to a private folder removed at exit), and
an answer or the whole conversation as text.

The CSV keeps every cell inert in a spreadsheet (OWASP: CSV injection) and carries what a person needs
to check a passage against its paper: doc_id, source and character offsets. `answer_text` is one
answer as plain text for the clipboard ("Copy answer"), `conversation_markdown` the conversation as a
Markdown file ("Export conversation"): each with every `[n]` spelt out as its paper's title, date,
type, page or item and the quoted passage, in the UI's own words (no file paths: a source is given
only as a web address).
"""
from __future__ import annotations

import atexit
import csv
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Sequence

from .types import Answer, Citation, Passage
from .wording import shown_date, type_label

MARKDOWN_HEAD = ("# Conversation with the council papers assistant\n\n"
                 "Answers quote the indexed council papers; each [n] is listed under its answer with the "
                 "passage it quotes. Check a source before relying on it.")
_WEB = re.compile(r"https?://\S+$", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"\[(\d+)\]|([\\`*_<>\[\]|])")
_MD_LINE_START = re.compile(r"^(\d+(?=[.)])|)([#>+=.)-])")
CSV_HEADERS = ["rank", "doc_id", "title", "date", "doc_type", "page", "score", "source", "start", "end", "text"]


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_search_csv(passages: Sequence[Passage], path: Path) -> Path:
    """`passages` as CSV at `path` (UTF-8 with a byte-order mark, so spreadsheets read £ and accents)."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADERS)
        for p in passages:
            writer.writerow([csv_cell(v) for v in (
                p.rank, p.meta.doc_id, p.meta.title, p.meta.date, p.meta.doc_type, p.chunk.page,
                f"{p.score:.4f}", p.meta.source, p.chunk.start, p.chunk.end, " ".join(p.chunk.text.split()))])
    return path


def csv_name(query: str) -> str:
    """The download's file name: "search-" and the query's words, e.g. search-improvement-board.csv."""
    slug = "-".join(re.findall(r"[a-z0-9]+", query.lower()))[:40] or "results"
    return f"search-{slug}.csv"


class Exports:
    """A private temporary folder for downloads, one subfolder per file so that two users' files of the
    same name never meet; removed when the process exits normally."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="council-assistant-exports-"))
        atexit.register(shutil.rmtree, self.folder, True)

    def search_csv(self, query: str, passages: Sequence[Passage]) -> Path:
        """A new CSV file of `passages`, named after `query`."""
        folder = self.folder / uuid.uuid4().hex
        folder.mkdir()
        return write_search_csv(passages, folder / csv_name(query))


def source_details(citation: Citation) -> str:
    """Where a citation's quote stands, in words: "12 May 2022 · Press release · page 2 · Item 5 Budget"."""
    meta = citation.meta
    parts = [shown_date(meta), type_label(meta.doc_type)]
    if citation.page:
        parts.append(f"page {citation.page}")
    item = meta.heading_at(citation.start)
    if item:
        parts.append(item)
    return " · ".join(_one_line(p) for p in parts)


def source_line(citation: Citation) -> str:
    """A citation's paper in words: "Ofsted rating — 12 May 2022 · Press release · page 2"."""
    return f"{_one_line(citation.meta.title)} — {source_details(citation)}"


def web_source(citation: Citation) -> str | None:
    """The paper's web address when the manifest gives one; a local file path is never shown."""
    source = (citation.meta.source or "").strip()
    return source if _WEB.match(source) else None


def answer_text(answer: Answer) -> str:
    """One answer as plain text for the clipboard: the answer (and its notes), then its sources, each
    `[n]` with its paper's title, date, type, page or item, the quoted passage and its web address."""
    lines = [_one_line(answer.text)]
    lines += [f"Note: {_one_line(note)}" for note in answer.notes]
    if answer.citations:
        lines += ["", "Sources:" if answer.answered else "Possibly related:"]
        for c in answer.citations:
            lines.append(f"[{c.n}] {source_line(c)}")
            lines.append(f"    > {_one_line(c.quote)}")
            url = web_source(c)
            if url:
                lines.append(f"    {url}")
    return "\n".join(lines) + "\n"


def turn_markdown(number: int, answer: Answer) -> str:
    """Turn `number` (from 1) of a conversation as Markdown: the question as a heading, the answer, its
    notes, and its sources as a list with each quote as a block quote. Text from the papers or the user
    is escaped, so it cannot become a link, a heading or HTML."""
    out = [f"## {number}. {_md(answer.question)}", "", _md(answer.text, start=True)]
    out += ["", *[f"*Note: {_md(note)}*" for note in answer.notes]] if answer.notes else []
    if answer.citations:
        out += ["", "**Sources**" if answer.answered else "**Possibly related**", ""]
        for c in answer.citations:
            out.append(f"- [{c.n}] **{_md(c.meta.title)}** — {_md(source_details(c))}")
            url = web_source(c)
            if url:
                out.append(f"  <{url.replace('>', '%3E').replace(' ', '%20')}>")
            out.append(f"  > {_md(c.quote)}")
    return "\n".join(out)


def conversation_markdown(turns: Sequence[Answer]) -> str:
    """The whole conversation as one Markdown file: `MARKDOWN_HEAD`, then each turn (`turn_markdown`).
    The browser joins the same parts the same way (static/actions.js), so this is exactly the file
    "Export conversation" downloads."""
    return "\n\n".join([MARKDOWN_HEAD, *(turn_markdown(i, a) for i, a in enumerate(turns, 1))]) + "\n"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _md(text: str, start: bool = False) -> str:
    """`text` on one line with Markdown's special characters escaped, `[n]` markers kept as they are;
    with `start`, also what would begin a heading, quote or list at the start of a line."""
    text = _MD_SPECIAL.sub(lambda m: m.group(0) if m.group(1) else "\\" + m.group(2), _one_line(text))
    return _MD_LINE_START.sub(r"\1\\\2", text) if start else text
