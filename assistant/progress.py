"""Progress of an ingest, phase by phase: extract (files read), ocr (pages read by OCR), embed (chunks
embedded and written) and write (vectors, BM25, publish), each with files/s, chunks/s and an estimated
time left, as a progress bar for a person or as JSON lines for a script.

JSON lines go to standard error, one object per line: at most one a second per phase while it runs,
and one when it ends (`"event": "end"`), with the rate in the phase's own unit too (`pages_per_s`
for OCR, `steps_per_s` for write). `total` and `eta_s` are null where the amount is not known ahead:
the embed phase runs beside extraction, so its total is known only at its end; the OCR phase's total
is the pages of the scanned files met so far (its time left, that of the file being read), and it
reports each page as it is read (at most once a second in JSON):
    {"event": "progress", "phase": "ocr", "unit": "pages", "done": 7, "total": 40, "files": 1,
     "chunks": 0, "elapsed_s": 21.0, "pages_per_s": 0.333, "files_per_s": 0.048, "chunks_per_s": 0.0,
     "eta_s": 99.0}
"""
from __future__ import annotations

import json
import sys
import time
from typing import Callable, Literal, TextIO

Mode = Literal["off", "bar", "json"]
PHASES = ("extract", "ocr", "embed", "write")


def figures(phase: str, unit: str, done: int, total: int | None, files: int, chunks: int,
            elapsed: float) -> dict:
    """One progress record: the counts, the rates since the phase began and the time left at that
    rate (None when the total is unknown or nothing is done yet)."""
    elapsed = max(elapsed, 1e-9)
    rate = done / elapsed
    eta = None if total is None or done == 0 else max(total - done, 0) / rate
    return {"phase": phase, "unit": unit, "done": done, "total": total, "files": files, "chunks": chunks,
            "elapsed_s": round(elapsed, 3), f"{unit}_per_s": round(rate, 3), "files_per_s": round(files / elapsed, 3),
            "chunks_per_s": round(chunks / elapsed, 3), "eta_s": None if eta is None else round(eta, 1)}


class Phase:
    """One phase's counters; `advance` after each unit of work. `total` may be changed as it becomes
    known."""

    def __init__(self, progress: "Progress", name: str, total: int | None, unit: str) -> None:
        self.progress, self.name, self.total, self.unit = progress, name, total, unit
        self.done = self.files = self.chunks = 0
        self.started = progress.clock()
        self._shown = self.started
        self._bar = None
        if progress.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=name, unit=f" {unit}", file=progress.stream, leave=False)

    def record(self) -> dict:
        return figures(self.name, self.unit, self.done, self.total, self.files, self.chunks,
                       self.progress.clock() - self.started)

    def advance(self, done: int = 1, files: int = 0, chunks: int = 0) -> None:
        self.done += done
        self.files += files
        self.chunks += chunks
        if self._bar is not None:
            if self._bar.total != self.total:
                self._bar.total = self.total
            self._bar.update(done)
            record = self.record()
            self._bar.set_postfix_str(f"{record['files_per_s']:.2f} files/s, {record['chunks_per_s']:.1f} chunks/s",
                                      refresh=False)
        elif self.progress.mode == "json" and self.progress.clock() - self._shown >= self.progress.interval:
            self._shown = self.progress.clock()
            self.progress.emit("progress", self.record())

    def end(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.progress.mode == "json":
            self.progress.emit("end", self.record())


class Progress:
    """Where an ingest reports its progress: nowhere ("off"), a bar per phase ("bar") or JSON lines
    ("json"); see the module docstring for the lines' fields."""

    def __init__(self, mode: Mode = "off", stream: TextIO | None = None, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mode, self.interval, self.clock = mode, interval, clock
        self.stream = stream if stream is not None else sys.stderr

    def phase(self, name: str, total: int | None, unit: str) -> Phase:
        return Phase(self, name, total, unit)

    def emit(self, event: str, record: dict) -> None:
        self.stream.write(json.dumps({"event": event, **record}) + "\n")
        self.stream.flush()
