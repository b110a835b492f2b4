"""Where ingest's time goes besides encoding, and what reading ahead while encoding saves.

    python bench/ingest_overhead.py [--papers 40] [--batch 256] [--rounds 2] [--runtime onnx]
    python bench/ingest_overhead.py --windows 128,2048 [--papers 40] [--rounds 2]

Generated papers (bench/synthetic.py) are ingested from scratch with the real encoder, in rounds
that interleave, so that all see the same machine load: the raw encode of exactly the texts ingest
encodes (each distinct sentence of its chunks), ingest with the reading thread (the product), and
ingest reading in turn (the reading thread off: how ingest ran before it). Each as a ratio to the
raw encode of the same round; the median over the rounds is printed and written to
bench/results/ingest-overhead.json. A second part profiles ingest with an encoder that costs nothing
(cProfile), to split the rest (extract, chunk, store, BM25, publish), and counts the texts ingest
encodes against the distinct ones (a sentence met again in a later batch is encoded again).

With --windows, the rounds compare instead ingests whose batches hold different numbers of chunks
(`ingest_batch_chunks`): the encoder sorts the texts of one batch by length, so a larger batch is a
wider sorting window and pads less. Beside the timings, the padding itself, counted with the model's
tokenizer (tokens in encoder batches of `embed_batch_size`, padded to each batch's longest, ÷ the
texts' own tokens), needs no timing and is untouched by load; written to
bench/results/ingest-windows.json.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import synthetic  # noqa: E402
from memory_probe import SeededEncoder  # noqa: E402
from ingest_rounds import (alternating_rounds, median_ratio, product_texts, reading,  # noqa: E402
                           settings_for, timed, timed_ingest)

RESULTS = Path(__file__).parent / "results" / "ingest-overhead.json"
WINDOWS = Path(__file__).parent / "results" / "ingest-windows.json"
PROFILED = {"extract": "loading.py:*(read)", "chunk": "loading.py:*(_chunked)", "put": "ingest.py:*(put)",
            "flush (store, vectors; encoder excluded)": "ingest.py:*(flush)",
            "BM25": "sparse.py:*(build_streamed)", "publish": "index.py:*(publish)"}


class FreeEncoder(SeededEncoder):
    """An encoder that costs nothing (one constant vector), so a profile shows only the rest of ingest;
    it counts the texts it is given and keeps each call's."""

    model_id = "bench/free"
    texts = 0

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_passages(self, texts, progress=False):
        self.texts += len(texts)
        self.calls.append(list(texts))
        return np.full((len(texts), self.dimension), self.dimension ** -0.5, dtype=np.float32)

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


def padding(papers: Path, work: Path, batch: int, tokenizer, encode_batch: int) -> dict:
    """Padded ÷ real tokens of an ingest in batches of `batch` chunks, each batch's new texts sorted by
    length and cut into encoder batches of `encode_batch` (as `OnnxEncoder.encode` does; a text met in
    an earlier batch is remembered, not encoded again), against one sort of all the texts."""
    encoder = FreeEncoder()
    shutil.rmtree(work / "free-index", ignore_errors=True)
    with reading(True) as ingest:
        ingest([papers], settings_for(work / "free-index", ingest_batch_chunks=batch), encoder)
    seen: set[str] = set()
    windows = []
    for call in encoder.calls:
        windows.append([t for t in call if t not in seen])
        seen.update(call)

    def padded(window: list[str]) -> tuple[int, int]:
        lengths = sorted(len(e.ids) for e in tokenizer.encode_batch(window)) if window else []
        return sum(lengths), sum(max(lengths[i:i + encode_batch]) * len(lengths[i:i + encode_batch])
                                 for i in range(0, len(lengths), encode_batch))

    per_batch = [padded(w) for w in windows]
    real, padded_all = padded([t for w in windows for t in w])
    return {"batches": len(windows), "texts": len(seen),
            "padded_vs_real_tokens": round(sum(p for _, p in per_batch) / max(sum(r for r, _ in per_batch), 1), 4),
            "one_sort_padded_vs_real_tokens": round(padded_all / max(real, 1), 4)}


def compare_windows(papers: Path, work: Path, windows: list[int], rounds: int, runtime: str) -> dict:
    """Ingests in batches of each of `windows` chunks against the raw encode, in alternating rounds:
    ratio to the raw encode and chunks/s (medians of the rounds), and each one's padding."""
    from assistant.embedding import Embedder

    encoder = Embedder("all-MiniLM-L6-v2", runtime=runtime, cache_dir=work / "models")
    encoder.embed_passages(["a council paper", "the cabinet met"])
    tokenizer = encoder.backend.tokenizer if runtime == "onnx" else encoder.backend.model.tokenizer._tokenizer
    index = work / "index"
    chunks = profile(papers, work, max(windows))["chunks"]
    pads = {batch: padding(papers, work, batch, tokenizer, encoder.batch_size) for batch in windows}
    timed_ingest(papers, index, encoder, settings_for(index, ingest_batch_chunks=max(windows)))  # warm-up
    texts = product_texts(index)
    rows = alternating_rounds(
        lambda: timed(lambda: encoder.embed_passages(texts)),
        {f"batch_{batch}": (lambda batch=batch: timed_ingest(papers, index, encoder,
                                                              settings_for(index, ingest_batch_chunks=batch)))
         for batch in windows}, rounds)
    return {"papers": len(list(papers.iterdir())), "chunks": chunks, "texts": len(texts), "runtime": runtime,
            "embed_batch_size": encoder.batch_size, "rounds": rows,
            "windows": {str(batch): {"ingest_vs_raw_encode": median_ratio(rows, f"batch_{batch}"),
                                     "chunks_per_s": round(statistics.median(chunks / row[f"batch_{batch}_s"]
                                                                             for row in rows), 1),
                                     **pads[batch]} for batch in windows},
            "note": "each ingest against the mean of the raw encodes either side of it in its round "
                    "(bench/ingest_rounds.py); padding counted with the model's tokenizer"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256, help="ingest_batch_chunks")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runtime", default="onnx", choices=["onnx", "torch"])
    parser.add_argument("--windows", help="comma-separated ingest_batch_chunks to compare instead")
    args = parser.parse_args(argv)
    if args.windows:
        work = Path(tempfile.mkdtemp(prefix="ingest-windows-"))
        try:
            synthetic.write_corpus(work / "papers", args.papers)
            result = compare_windows(work / "papers", work, [int(b) for b in args.windows.split(",")],
                                     args.rounds, args.runtime)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(result, indent=1))
        WINDOWS.write_text(json.dumps(result, indent=1) + "\n")
        return
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
