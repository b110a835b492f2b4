"""BM25 built streamed (`SparseIndex.build_streamed`, as ingest builds it) against bm25s's one-shot build
(`SparseIndex.build` over every text at once), on the same generated chunk texts, each in a fresh process.

    python bench/bm25_memory.py [--sizes 50000,200000]

Each build runs in its own child process, which reports its wall time and its peak RSS (ru_maxrss) with
the RSS it had before the build began (interpreter, NumPy, SciPy and bm25s imported), so the difference is
what the build itself holds. The one-shot build needs every text in memory (as ingest's build did when it
read the whole chunk store); the streamed one is handed batches of 2,048 texts generated on demand, as
ingest reads them from the chunk store. Writes bench/results/bm25-memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BATCH = 2_048


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(method: str, size: int) -> dict:
    """One build of `size` generated chunks by `method` ("streamed" or "one-shot") in this process."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import numpy as np
    import scipy.sparse  # noqa: F401  (imported before the baseline: both builds use it)
    import synthetic
    from assistant.sparse import SparseIndex, _bm25s

    _bm25s()
    next(synthetic.chunk_texts(1))  # builds the cached sentence pool outside the timed build

    def batches():
        texts = synthetic.chunk_texts(size)
        done = 0
        while done < size:
            take = min(BATCH, size - done)
            yield [(done + k, next(texts)) for k in range(take)]
            done += take

    before = _rss_mb()
    started = time.perf_counter()
    if method == "streamed":
        index = SparseIndex.build_streamed(batches)
    else:
        texts = list(synthetic.chunk_texts(size))
        index = SparseIndex.build(np.arange(size, dtype=np.int64), texts)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert index is not None
    return {"method": method, "chunks": size, "seconds": round(seconds, 1), "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(peak, 1), "build_peak_mb": round(peak - before, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="50000,200000", help="comma-separated chunk counts")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for method in ("streamed", "one-shot"):
            out = subprocess.run([sys.executable, __file__, "--child", method, str(size)], check=True,
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    load = os.getloadavg()
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs",
              "load_average_1m_at_end": round(load[0], 2), "batch": BATCH,
              "command": f"python bench/bm25_memory.py --sizes {args.sizes}", "builds": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bm25-memory.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
