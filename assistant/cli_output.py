"""What the command line writes: ingest reports, answers and passages as text or JSON, dates given as
arguments, and log lines, all with control characters escaped (titles and file names come from files
and may carry terminal escape sequences)."""
from __future__ import annotations

import json
import logging
import re
import sys
import textwrap

from .corpus import printable
from .errors import QueryError
from .types import OCR_NOTE, DocumentMeta

_SURROGATE = re.compile("[\ud800-\udfff]")


def ingest_json(report) -> dict:
    return {
        "added": report.added, "updated": report.updated, "removed": report.removed,
        "unchanged": len(report.unchanged), "chunks_embedded": report.chunks_embedded,
        "failed": [{"file": f, "error": e} for f, e in report.failed],
        "warnings": [{"file": f, "warning": w} for f, w in report.warnings],
        "seconds": round(report.seconds, 3), "embed_seconds": round(report.embed_seconds, 3),
    }


def print_ingest(report) -> None:
    for file, problem in report.warnings:
        print(f"warning: {printable(file)}: {printable(problem)}", file=sys.stderr)
    for file, problem in report.failed:
        print(f"failed: {printable(file)}: {printable(problem)}", file=sys.stderr)
    print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
          f"{len(report.unchanged)} unchanged, {len(report.failed)} failed; "
          f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f} s")


def date_argument(value: str | None, flag: str):
    """An ISO date argument as a date (None when absent); a QueryError naming the flag otherwise."""
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{flag} {value!r}: give a date as YYYY-MM-DD") from None


def utf8(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte) as U+FFFD, so that it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        return
    text, short = " ".join(answer.text.split()), answer.short_answer
    lead = f"{' '.join(short.text.split())} [{short.n}] — " if short else ""
    if lead and text.startswith(lead):
        print(printable(lead.removesuffix(" — ")) + "\n")
        text = text[len(lead):]
    print(textwrap.fill(printable(text), 100))
    if answer.citations:
        print("\nSources:" if answer.answered else "\nPossibly related:")
    for c in answer.citations:
        where = located(c.meta, c.page, c.meta.heading_at(c.start))
        print(f"[{c.n}] {described(c.meta)}{printable(where)})")
        print(textwrap.indent(textwrap.fill(printable(f"\u201c{' '.join(c.quote.split())}\u201d"), 96), "    "))
    for note in answer.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    print(flush=True)


def described(meta) -> str:
    """A paper's title, date and type for a line of text output (the closing parenthesis left open
    for a page), escaped: titles come from manifests and PDF or HTML metadata, and may carry control
    characters."""
    return printable(f"{meta.title} ({meta.date or 'undated'}, {meta.doc_type}")


class PrintableFormatter(logging.Formatter):
    """Log lines with control characters escaped (a file name's escape sequences must not reach the
    terminal); line breaks are kept, for tracebacks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().formatMessage(record).split("\n"))
def located(meta: DocumentMeta, page: int | None, item: str | None = None) -> str:
    """", Item 37/18 Appointment of Internal Auditor, page 3" (with ", text read by OCR from a scan"
    for a page read by OCR)."""
    where = f", {item}" if item else ""
    if page:
        where += f", page {page}, {OCR_NOTE}" if meta.read_by_ocr(page) else f", page {page}"
    return where



FEEDBACK_COLUMNS = ("time", "user", "rating", "answered", "question", "comment")
FEEDBACK_CELL = 60  # characters of a question or comment shown in the table; --json gives them whole


def feedback_table(entries) -> list[str]:
    """`feedback list` as a table, one rating per line, oldest first, long text cut with "…"."""
    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= FEEDBACK_CELL else text[:FEEDBACK_CELL - 1] + "…"

    rows = [FEEDBACK_COLUMNS] + [(e.time[:16].replace("T", " "), e.user or "-", "👍 up" if e.rating == "up" else "👎 down",
                                  "yes" if e.answered else "no", cut(e.question), cut(e.note)) for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(FEEDBACK_COLUMNS) - 1)]
    return ["  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]).rstrip() for row in rows]
