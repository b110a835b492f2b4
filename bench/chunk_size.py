"""Chunk size study: retrieval hit@1 and MRR by source paper on the corpus, per chunk size.

Run: `make bench-chunks` (or `.venv/bin/python bench/chunk_size.py`). The questions in
bench/retrieval_questions.jsonl are a small development set for this study only; the eval suite
keeps its own questions and held-out split.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.embedding import Embedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    questions = [json.loads(line) for line in (ROOT / "bench" / "retrieval_questions.jsonl").open()]
    embedder = Embedder("all-MiniLM-L6-v2")
    print(f"{len(questions)} questions; corpus: {ROOT / 'corpus'}")
    print("| chunk words | overlap | chunks | hit@1 | MRR (by paper) | ingest s |")
    print("|---|---|---|---|---|---|")
    for words in (40, 60, 90, 120, 160, 200):
        for overlap in (0, 1):
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings.load(env={}, index_dir=Path(tmp), chunk_words=words,
                                         chunk_overlap_sentences=overlap, progress=False)
                assistant = Assistant(settings, encoder=embedder)
                started = time.perf_counter()
                assistant.ingest([ROOT / "corpus"])
                seconds = time.perf_counter() - started
                hits, rr = 0, 0.0
                for q in questions:
                    docs = list(dict.fromkeys(p.meta.doc_id for p in assistant.search(q["question"], k=20)))
                    hits += bool(docs) and docs[0] == q["doc_id"]
                    rr += 1 / (docs.index(q["doc_id"]) + 1) if q["doc_id"] in docs else 0
                chunks = assistant.info()["chunks"]
                print(f"| {words} | {overlap} | {chunks} | {hits / len(questions):.3f} | "
                      f"{rr / len(questions):.3f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
