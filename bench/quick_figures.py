"""Foundation figures on the corpus: ingest time, embedding throughput, search and ask latency.

Run: `.venv/bin/python bench/quick_figures.py`. Throughput is measured on the corpus's own chunks
repeated to about 2,000 passages, at batch size 10 (llama-index's default) and at our setting, in the
same run.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings.load(env={}, index_dir=Path(tmp), progress=False))
        started = time.perf_counter()
        assistant.encoder.load()
        load_s = time.perf_counter() - started
        report = assistant.ingest([ROOT / "corpus"])
        print(f"model load {load_s:.2f} s; corpus ingest {report.seconds:.2f} s for {report.chunks_embedded} chunks "
              f"(embedding {report.embed_seconds:.2f} s)")
        texts = [row[1] for rows in assistant._index.store.iter_index_texts() for row in rows]
        texts = (texts * (2000 // len(texts) + 1))[:2000]
        for batch in (10, assistant.settings.embed_batch_size):
            assistant.encoder.batch_size = batch
            started = time.perf_counter()
            assistant.encoder.embed_passages(texts)
            seconds = time.perf_counter() - started
            print(f"embedding throughput, batch {batch}: {len(texts) / seconds:.0f} chunks/s")
        questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()]
        assistant.search("warm up")
        for label, call in (("search", lambda q: assistant.search(q, k=5)), ("ask", assistant.ask)):
            times = []
            assistant.encoder.clear_query_cache()
            for q in questions:  # each question once: query vectors are cached, repeats would flatter
                started = time.perf_counter()
                call(q)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            print(f"{label} latency over {len(times)} distinct questions: p50 {statistics.median(times):.1f} ms, "
                  f"p95 {times[int(0.95 * len(times))]:.1f} ms")

if __name__ == "__main__":
    main()
