"""The archive section of bench/scale.py: how it runs and reads an ingest child."""
from __future__ import annotations

import sys
import threading

from test_synthetic import _load_bench_module

scale = _load_bench_module("scale")

# A stand-in for `council-assistant -v ingest --json` at archive scale: progress on standard error,
# then a JSON report far larger than a pipe's 64 KB (10,000 papers' paths), as the real one prints.
_CHILD = r"""
import json, sys
print("INFO assistant.ingest: embedding 4 chunk(s)", file=sys.stderr, flush=True)
print("INFO assistant.ingest: batch written: 4 of the chunk(s) so far embedded, from 1 paper(s)", file=sys.stderr,
      flush=True)
print(json.dumps({"added": [f"/archive/paper-{i:05d}.txt" for i in range(10_000)], "chunks_embedded": 4}))
print("INFO assistant.ingest: published", file=sys.stderr, flush=True)
"""


def test_ingest_child_reads_a_report_larger_than_a_pipe(tmp_path):
    """The child's report outgrows a pipe: reading it only after standard error closes deadlocked the
    10,000-paper run (the child blocked writing it); it must come back whole."""
    out: dict = {}
    runner = threading.Thread(target=lambda: out.update(scale.ingest_child(
        tmp_path / "index", tmp_path / "papers", command=[sys.executable, "-c", _CHILD])), daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "ingest_child blocked on the child's report"
    assert len(out["report"]["added"]) == 10_000
    assert out["report"]["chunks_embedded"] == 4
    assert out["batches"][-1][1] == 4
    assert out["killed_at_chunks"] is None
