"""Files a user downloads: search results as CSV, written to a private folder that is removed at exit.

The CSV keeps every cell inert in a spreadsheet (OWASP: CSV injection) and carries what a person needs
to check a passage against its paper: doc_id, source and character offsets.
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

from .types import Passage

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
