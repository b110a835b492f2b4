"""Ingest timed against the raw encode of exactly the texts it encodes, in alternating rounds.

Shared by bench/scale.py (its ingest section's `ingest_vs_raw_encode`) and bench/ingest_overhead.py.
Two timings taken minutes apart on a shared machine differ by the load as much as by the work (±30%
between timings a minute apart), so the raw encode and each ingest alternate in one run: raw, the
ingests of the round, raw again, the next round reusing the closing raw encode as its opening one and
running its ingests in the reverse order. Each ingest is a ratio to the mean of the raw encodes either
side of it in its round; the median over the rounds is the figure.
"""
from __future__ import annotations

import contextlib
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np


def settings_for(index_dir: Path, **overrides):
    """The product's settings for an index in `index_dir`, from no file and no environment."""
    from assistant.settings import Settings

    return Settings.load(env={}, index_dir=index_dir, progress=False, **overrides)


def timed(work: Callable[[], object]) -> float:
    """Seconds `work()` took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def product_texts(index_dir: Path) -> list[str]:
    """The texts ingest encoded for the index in `index_dir`: each distinct sentence of its chunks (and
    a chunk without sentences whole), read back from the chunk store, as `chunk_vectors` builds them."""
    from assistant.chunkstore import ChunkStore
    from assistant.embedding import chunk_vectors
    from assistant.index import current_build

    store = ChunkStore.open(current_build(index_dir), readonly=True)
    try:
        ids = store.chunk_ids().tolist()
        rows = store.chunks(ids)
        chunks = [rows[i][0] for i in ids]
    finally:
        store.close()
    texts: list[str] = []
    chunk_vectors(chunks, lambda batch: texts.extend(batch) or np.zeros((len(batch), 1), dtype=np.float32))
    return texts


@contextlib.contextmanager
def reading(ahead: bool) -> Iterator[Callable]:
    """The product's `ingest`, with its reading thread (ahead: the product as shipped) or reading each
    paper in turn (the thread off: how ingest ran before it)."""
    from assistant import ingest as ingest_module
    from assistant.loading import Stream

    class InTurn(Stream):
        def __init__(self, *args) -> None:
            super().__init__(*args[:4], 0)

    ingest_module.Stream = Stream if ahead else InTurn
    try:
        yield ingest_module.ingest
    finally:
        ingest_module.Stream = Stream


def timed_ingest(papers: Path, index: Path, encoder, settings, ahead: bool = True) -> tuple[float, float]:
    """(wall seconds, encoding seconds) of a from-scratch ingest of `papers` into `index`."""
    shutil.rmtree(index, ignore_errors=True)
    with reading(ahead) as ingest:
        started = time.perf_counter()
        report = ingest([papers], settings, encoder)
        wall = time.perf_counter() - started
    if report.failed:
        raise RuntimeError(f"ingest failed on {report.failed}")
    return wall, report.embed_seconds


def alternating_rounds(raw: Callable[[], float], ingests: dict[str, Callable[[], tuple[float, float]]],
                       rounds: int, log: Callable[[str], None] = print) -> list[dict[str, float]]:
    """`rounds` rows of seconds: `raw_s` (the mean of the raw encodes before and after the round's
    ingests), `raw_before_s`, `raw_after_s`, and for each ingest `<name>_s` (wall) and
    `<name>_encode_s` (its own encoding). `raw()` returns the seconds of one raw encode, each of
    `ingests` (wall, encoding) seconds of one from-scratch ingest; rounds share their raw encodes at
    the seams and reverse the order of the ingests, so neither ingest always follows the raw encode."""
    rows: list[dict[str, float]] = []
    before = raw()
    for n in range(rounds):
        names = list(ingests) if n % 2 == 0 else list(reversed(ingests))
        row: dict[str, float] = {"raw_before_s": before}
        for name in names:
            row[f"{name}_s"], row[f"{name}_encode_s"] = ingests[name]()
        row["raw_after_s"] = before = raw()
        row["raw_s"] = (row["raw_before_s"] + row["raw_after_s"]) / 2
        row = {k: round(v, 2) for k, v in row.items()}
        rows.append(row)
        log(f"round {n}: {row}; " + ", ".join(f"{name}/raw {row[f'{name}_s'] / row['raw_s']:.3f}"
                                              for name in ingests))
    return rows


def median_ratio(rows: list[dict[str, float]], name: str) -> float:
    """The median over `rows` of ingest `name`'s wall time ÷ the raw encode of its round."""
    return round(statistics.median(row[f"{name}_s"] / row["raw_s"] for row in rows), 3)
