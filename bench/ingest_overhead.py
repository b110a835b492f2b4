"""Where ingest's time goes besides encoding, and what reading ahead while encoding saves.

    python bench/ingest_overhead.py [--papers 40] [--batch 256] [--rounds 2] [--runtime onnx]

Generated papers (bench/synthetic.py) are ingested from scratch with the real encoder, in rounds
that interleave, so that all see the same machine load: the raw encode of exactly the texts ingest
encodes (each distinct sentence of its chunks), ingest with the reading thread (the product), and
ingest reading in turn (the reading thread off: how ingest ran before it). Each as a ratio to the
raw encode of the same round; the median over the rounds is printed and written to
bench/results/ingest-overhead.json. A second part profiles ingest with an encoder that costs nothing
(cProfile), to split the rest (extract, chunk, store, BM25, publish), and counts the texts ingest
encodes against the distinct ones (a sentence met again in a later batch is encoded again).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import synthetic  # noqa: E402
from ingest_rounds import (alternating_rounds, median_ratio, product_texts, reading,  # noqa: E402
                           settings_for, timed, timed_ingest)

RESULTS = Path(__file__).parent / "results" / "ingest-overhead.json"
PROFILED = {"extract": "loading.py:*(read)", "chunk": "loading.py:*(_chunked)", "put": "ingest.py:*(put)",
            "flush (store, vectors; encoder excluded)": "ingest.py:*(flush)",
            "BM25": "sparse.py:*(build_streamed)", "publish": "index.py:*(publish)"}


class FreeEncoder:
    """An encoder that costs nothing, so a profile shows only the rest of ingest."""

    model_id, precision, dimension = "bench/free", "fp32", 384
    texts = 0

    def record(self) -> dict:
        return {"model": self.model_id, "dimension": self.dimension, "precision": self.precision,
                "query_prompt": "", "document_prompt": ""}

    def load(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def embed_passages(self, texts, progress=False):
        self.texts += len(texts)
        return np.full((len(texts), self.dimension), self.dimension ** -0.5, dtype=np.float32)

    def embed_chunks(self, chunks, progress=False):
        from assistant.embedding import chunk_vectors

        return chunk_vectors(chunks, self.embed_passages)

    def embed_query(self, text):
        return self.embed_passages([text])[0]

    def clear_query_cache(self) -> None:
        pass


def profile(papers: Path, work: Path, batch: int) -> dict:
    """Seconds of each step of an ingest with the free encoder, reading in turn so that one thread
    does all (cProfile, cumulative)."""
    from assistant.chunking import _punkt

    _punkt()  # its first load (NLTK and SciPy imports, ~3 s) is a process's, not a paper's
    profiler = cProfile.Profile()
    shutil.rmtree(work / "free-index", ignore_errors=True)
    with reading(False) as ingest:
        started = time.perf_counter()
        profiler.enable()
        encoder = FreeEncoder()
        report = ingest([papers], settings_for(work / "free-index", ingest_batch_chunks=batch), encoder)
        profiler.disable()
        wall = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats
    steps = {}
    for name, pattern in PROFILED.items():
        module, function = pattern.split(":*")
        steps[name] = round(sum(v[3] for k, v in stats.items()
                                if k[0].endswith(module) and f"({k[2]})" == function), 3)
    return {"wall_s": round(wall, 3), "chunks": report.chunks_embedded, "steps_s": steps,
            "texts_encoded": encoder.texts, "distinct_texts": len(set(product_texts(work / "free-index")))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256, help="ingest_batch_chunks")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runtime", default="onnx", choices=["onnx", "torch"])
    args = parser.parse_args(argv)
    from assistant.embedding import Embedder

    work = Path(tempfile.mkdtemp(prefix="ingest-overhead-"))
    try:
        papers = work / "papers"
        synthetic.write_corpus(papers, args.papers)
        free = profile(papers, work, args.batch)
        print(f"free encoder: {free}", flush=True)
        encoder = Embedder("all-MiniLM-L6-v2", runtime=args.runtime, cache_dir=work / "models")
        encoder.embed_passages(["a council paper", "the cabinet met"])
        settings = settings_for(work / "index", ingest_batch_chunks=args.batch)
        timed_ingest(papers, work / "index", encoder, settings)  # warm-up; gives the texts
        texts = product_texts(work / "index")
        rows = alternating_rounds(
            lambda: timed(lambda: encoder.embed_passages(texts)),
            {kind: (lambda ahead=(kind == "ahead"): timed_ingest(papers, work / "index", encoder, settings, ahead))
             for kind in ("ahead", "in_turn")}, args.rounds)
        median = {kind: median_ratio(rows, kind) for kind in ("ahead", "in_turn")}
        result = {"papers": args.papers, "ingest_batch_chunks": args.batch, "runtime": args.runtime,
                  "texts": len(texts), "rounds": rows, "ingest_vs_raw_encode": median["ahead"],
                  "ingest_in_turn_vs_raw_encode": median["in_turn"], "free_encoder_profile": free,
                  "note": "raw_s is the mean of the raw encodes before and after the two ingests of a round; "
                          "rounds share the raw encode at their seam (bench/ingest_rounds.py)"}
        print(json.dumps(result, indent=1))
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
