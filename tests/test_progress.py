"""Ingest progress: per-phase figures, and the JSON lines scripts read (`ingest --json`)."""
from __future__ import annotations

import io
import json

from assistant.progress import Progress, figures


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_figures_give_rates_and_time_left():
    record = figures("embed", "chunks", done=500, total=2000, files=25, chunks=500, elapsed=10.0)
    assert record["chunks_per_s"] == 50.0 and record["files_per_s"] == 2.5
    assert record["eta_s"] == 30.0
    assert figures("ocr", "pages", 3, None, 1, 0, 2.0)["eta_s"] is None
    assert figures("embed", "chunks", 0, 100, 0, 0, 0.0)["eta_s"] is None


def test_json_lines_one_object_a_line_at_most_once_a_second_and_at_the_end():
    stream, clock = io.StringIO(), Clock()
    progress = Progress("json", stream=stream, clock=clock)
    phase = progress.phase("embed", 300, "chunks")
    for _ in range(3):
        clock.now += 0.4
        phase.advance(100, files=4, chunks=100)
    phase.end()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["progress", "end"]
    first, last = lines
    assert first["done"] == 300 and first["eta_s"] == 0.0
    assert last == {"event": "end", "phase": "embed", "unit": "chunks", "done": 300, "total": 300, "files": 12,
                    "chunks": 300, "elapsed_s": 1.2, "files_per_s": 10.0, "chunks_per_s": 250.0, "eta_s": 0.0}


def test_off_and_bar_modes_write_no_json():
    for mode in ("off", "bar"):
        stream = io.StringIO()
        phase = Progress(mode, stream=stream).phase("extract", 2, "files")
        phase.advance(files=1)
        phase.end()
        assert "{" not in stream.getvalue()
