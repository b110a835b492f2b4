"""The performance benchmark: ingest throughput, search and ask latency at 10k to 1M chunks, recall
of the approximate index, cold start, memory, disk, and answer quality among distractors.

    make bench        quick mode (under 10 minutes): 10k and 100k chunks, ~500 chunks of ingest,
                      the corpus among ~25 generated papers
    make bench-full   full mode: 10k, 100k and 1M chunks, ~2,000 chunks of ingest, the corpus among
                      2,000 generated papers (about 18 minutes on 2 cores, most of it embedding)

Every figure is measured in the same run as its baseline:
- ingest: the product's `ingest` (load, clean, chunk, embed, store, BM25, publish) against the raw
  encode of exactly the texts it encodes (the limit; the two alternate in rounds, see
  bench/ingest_rounds.py) and against llama-index's default `VectorStoreIndex.from_documents` with
  the same model, all on the same generated papers;
- scale: indexes of the real corpus plus generated chunk texts (bench/synthetic.py). Their vectors
  are derived from real embeddings: each is the vector of a really embedded generated chunk (or
  sentence) plus Gaussian noise (cosine ≈ 0.9 to its origin), so they cluster like real ones;
  plain random vectors would make recall figures meaningless. Queries are the eval questions and
  generated questions, really encoded. Search and ask run in a fresh process per size, which also
  reports its peak RSS; recall@10 compares the index's dense search with exact search over the same
  vectors;
- cold start: `council-assistant ask` from process start to the printed answer, at 100k chunks;
- distractors: eval answer accuracy with generated papers ingested beside the corpus, against the
  corpus alone;
- archive (full mode, or `--archive-papers N`): 10,000 generated papers, whole (about 1,260 words and
  21 chunks each) or each cut after its last whole paragraph within `--archive-words` words (quick mode
  250; 0 keeps them whole),
  ingested from scratch by `council-assistant ingest` in a child process with the `--archive-precision`
  encoder (default int8), killed (SIGKILL) half way through embedding and run again, which resumes;
  wall time of both runs, chunks/s, the peak RSS of the ingest process (with its extraction worker's)
  and a timeline of memory and chunks embedded (plotted by bench/plots.py).
Results: bench/results/<mode>.json and .md, and PNG plots beside them.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402
from ingest_rounds import (alternating_rounds, median_ratio, product_texts, settings_for,  # noqa: E402
                           timed, timed_ingest)

from assistant import index as index_layout  # noqa: E402
from assistant.chunkstore import ChunkStore  # noqa: E402
from assistant.sparse import SparseIndex  # noqa: E402
from assistant.types import Chunk, Document, DocumentMeta  # noqa: E402
from assistant.vectors import FILE_NAME as VECTORS_FILE, FLAT_LIMIT, FaissVectors, recall_at  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# the hit@5 and accuracy drops of the int8 encoder, from one eval run per precision on both suites
ENCODER_EVALS = RESULTS / "encoder-precision.json"
MODES = {
    "quick": {"ingest_papers": 20, "ingest_rounds": 2, "sizes": [10_000, 100_000], "queries": 200, "distractor_papers": 20,
              "archive_papers": 0, "archive_words": 250, "archive_precision": "int8"},
    "full": {"ingest_papers": 104, "ingest_rounds": 3, "sizes": [10_000, 100_000, 1_000_000], "queries": 300,
             "distractor_papers": 2_000, "archive_papers": 10_000, "archive_words": None,
             "archive_precision": "int8"},
}
TARGETS = {
    "ingest_vs_raw_encode": "≤ 1.1×",
    "ingest_speedup_vs_llama_index": "≥ 2×",
    "ask_p50_ms_at_100k": "≤ 50 ms",
    "search_p50_ms_at_1m": "≤ 30 ms",
    "recall_at_10_at_1m": "≥ 0.95",
    "cold_start_s_at_100k": "≤ 3 s",
    "peak_rss_gb_at_1m": "≤ 2.5 GB",
    "distractor_accuracy_drop_points": "≤ 3",
    "archive_peak_rss_gb": "≤ 3 GB",
}
SECTIONS = ("ingest", "scale", "distractors", "archive")
NOISE_COSINE = 0.9
PAPER_CHUNKS = 20
_SENTENCE = re.compile(r"[^.!?]+[.!?]+|[^.!?]+$")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
    return {"p50_ms": round(pick(0.5), 2), "p95_ms": round(pick(0.95), 2), "n": len(values)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- ingest ---------------------------------------------------------------------------------------
def bench_ingest(work: Path, papers: int, torch_embedder, rounds: int = 2) -> tuple[dict, Path]:
    """Product ingest against raw encode and llama-index's default, on the same generated papers. The
    ingest and the raw encode of exactly the texts it encodes alternate in `rounds` rounds
    (bench/ingest_rounds.py), after a first ingest that gives the texts and bears the process's one-off
    costs (NLTK's first import); `product_s` and `raw_encode_s` are the medians over the rounds."""
    from assistant.chunking import chunk_document
    from assistant.corpus import discover
    from assistant.extraction import load_document

    folder = work / "ingest-papers"
    # a reused --work folder holds the distractor section's papers and an index of them: start afresh,
    # or the ingest would time more papers than it reports, or find nothing to do
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / "ingest-index", ignore_errors=True)
    synthetic.write_corpus(folder, papers)
    documents = [load_document(s, s.path.read_bytes()) for s in discover([folder]).sources]
    chunks = [(d, c) for d in documents for c in chunk_document(d, 90, 1)]
    texts = [f"{d.meta.title}\n{c.text}" for d, c in chunks]
    log(f"ingest: {papers} papers, {len(chunks)} chunks")
    model = torch_embedder.backend.model

    started = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    raw = time.perf_counter() - started
    log(f"ingest: raw encode of title + chunk texts {raw:.1f} s (llama-index's work)")

    index = work / "ingest-index"
    settings = settings_for(index, encoder_runtime="torch")
    first, _ = timed_ingest(folder, index, torch_embedder, settings)
    encoded = product_texts(index)
    log(f"ingest: first ingest {first:.1f} s; {len(encoded)} texts encoded; {rounds} alternating rounds")
    rows = alternating_rounds(lambda: timed(lambda: torch_embedder.embed_passages(encoded)),
                              {"ingest": lambda: timed_ingest(folder, index, torch_embedder, settings)},
                              rounds, lambda line: log(f"ingest: {line}"))
    product = statistics.median(row["ingest_s"] for row in rows)
    product_encode = statistics.median(row["ingest_encode_s"] for row in rows)
    same_raw = statistics.median(row["raw_s"] for row in rows)
    log(f"ingest: product {product:.1f} s ({product_encode:.1f} s encoding), raw encode {same_raw:.1f} s "
        f"(ingest ÷ raw, median of rounds {median_ratio(rows, 'ingest'):.3f})")
    batching = bench_batching(encoded, work / "models", torch_embedder)

    from llama_index.core import Document as LlamaDocument
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    LlamaSettings.llm = MockLLM()
    embed_model = HuggingFaceEmbedding(model_name=torch_embedder._location, device="cpu")
    embed_model.get_text_embedding("warm up")
    llama_documents = [LlamaDocument(text=d.text, metadata={"title": d.meta.title}) for d in documents]
    started = time.perf_counter()
    llama = VectorStoreIndex.from_documents(llama_documents, embed_model=embed_model)
    llama_seconds = time.perf_counter() - started
    log(f"ingest: llama-index {llama_seconds:.1f} s ({len(llama.docstore.docs)} nodes)")
    from llama_index.core.schema import TextNode

    nodes = [TextNode(text=text) for text in texts]
    started = time.perf_counter()
    VectorStoreIndex(nodes, embed_model=embed_model)
    llama_same = time.perf_counter() - started
    log(f"ingest: llama-index over the product's chunks {llama_same:.1f} s")
    encoder = bench_encoder([c for _, c in chunks], work / "models")
    equal_work = llama_equal_work(texts, embed_model, raw, product, llama_same)
    return {
        "encoder": encoder,
        "papers": papers, "chunks": len(chunks), "words": sum(len(d.text.split()) for d in documents),
        "raw_encode_s": round(same_raw, 2), "raw_encode_texts": len(encoded), "product_s": round(product, 2),
        "first_ingest_s": round(first, 2), "ingest_rounds": rows,
        "raw_encode_title_chunk_s": round(raw, 2),
        "product_encode_s": round(product_encode, 2), "llama_index_s": round(llama_seconds, 2),
        "llama_index_nodes": len(llama.docstore.docs), "llama_index_same_chunks_s": round(llama_same, 2),
        "ingest_speedup_vs_llama_index_same_chunks": round(llama_same / product, 2),
        "product_chunks_per_s": round(len(chunks) / product, 1),
        "raw_chunks_per_s": round(len(chunks) / same_raw, 1),
        "ingest_vs_raw_encode": median_ratio(rows, "ingest"),
        "ingest_vs_raw_encode_note": "ingest wall time ÷ the same embedder's encode of exactly the texts the "
                                     "product encoded (each distinct sentence of its chunks), in alternating "
                                     "rounds after a first ingest (ingest_rounds: raw encode, ingest, raw "
                                     "encode; each ingest against the mean of the raw encodes either side), "
                                     "median of the rounds",
        "ingest_vs_own_encode": round(statistics.median(row["ingest_s"] / max(row["ingest_encode_s"], 1e-9)
                                                        for row in rows), 3),
        "ingest_vs_own_encode_note": "ingest wall time ÷ the encoding seconds within that same ingest: the "
                                     "share of ingest that is not encoding, untouched by load changing "
                                     "between two timings (bench/ingest_overhead.py splits the rest)",
        "batching": batching,
        "ingest_speedup_vs_llama_index": round(llama_seconds / product, 2),
        "llama_index_equal_work": equal_work,
    }, work / "ingest-index"


BATCH_SIZES = (16, 32, 64, 128)
BATCHING_TEXTS = 512  # the first texts ingest encodes, in document order: enough for 4 batches of 128


def bench_batching(texts: list[str], models: Path, torch_embedder, rounds: int = 2) -> dict:
    """Encode throughput on the texts ingest encodes, measured, not assumed: ONNX Runtime fp32 (what
    `encoder_runtime = "auto"` runs once ingest has exported the model) at batch sizes 16 to 128,
    sorted by token length or in document order, with 1 or 2 intra-op threads; torch
    (sentence-transformers, which always sorts) with 1 and 2 threads at the default batch. Best of
    `rounds`, the configurations interleaved in each round so that all see the same machine load;
    on the first BATCHING_TEXTS texts, to keep the quick bench short."""
    import torch

    from assistant.embedding import Embedder, OnnxEncoder

    texts = texts[:BATCHING_TEXTS]
    onnx = Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=models)
    onnx.load()
    sessions = {threads: OnnxEncoder(onnx._location, onnx.onnx_path, threads=threads) for threads in (1, 2)}
    for session in sessions.values():
        session.encode(texts[:64], 64, False)
    configs = [("onnx", b, ordered, t) for t in (1, 2) for ordered in (True, False) for b in BATCH_SIZES]
    configs += [("torch", torch_embedder.batch_size, True, t) for t in (1, 2)]
    best = {config: float("inf") for config in configs}
    threads_before = torch.get_num_threads()
    try:
        for _ in range(rounds):
            for config in configs:
                runtime, batch, ordered, threads = config
                if runtime == "onnx":
                    session = sessions[threads]
                    session.sort = ordered
                    seconds = timed(lambda: session.encode(texts, batch, False))
                else:
                    torch.set_num_threads(threads)
                    seconds = timed(lambda: torch_embedder.backend.encode(texts, batch, False))
                best[config] = min(best[config], seconds)
    finally:
        torch.set_num_threads(threads_before)
    rows = [{"runtime": r, "batch": b, "sorted": o, "threads": t, "seconds": round(best[(r, b, o, t)], 3),
             "texts_per_s": round(len(texts) / best[(r, b, o, t)], 1)} for r, b, o, t in configs]
    fastest = max((row for row in rows if row["runtime"] == "onnx"), key=lambda row: row["texts_per_s"])
    default = next(row for row in rows if row["runtime"] == "onnx" and row["batch"] == onnx.batch_size
                   and row["sorted"] and row["threads"] == 2)
    log(f"ingest: batching, fastest ONNX {fastest}; default ({onnx.batch_size}, sorted, 2 threads) "
        f"{default['texts_per_s']}/s")
    return {"texts": len(texts), "rounds": rounds, "rows": rows, "fastest_onnx": fastest,
            "default_onnx": default, "default_vs_fastest": round(default["texts_per_s"] / fastest["texts_per_s"], 3),
            "robust_batch": robust_batch(rows)}


def robust_batch(rows: list[dict]) -> dict:
    """The ONNX batch size (sorted) whose worst throughput, as a share of the best batch size at the
    same thread count, is highest over the thread counts measured: the pick that loses least whether
    the encoder gets one core or two (the `embed_batch_size` default is chosen by it)."""
    sorted_rows = [r for r in rows if r["runtime"] == "onnx" and r["sorted"]]
    best = {t: max(r["texts_per_s"] for r in sorted_rows if r["threads"] == t) for t in {r["threads"] for r in sorted_rows}}
    share = {b: min(r["texts_per_s"] / best[r["threads"]] for r in sorted_rows if r["batch"] == b) for b in BATCH_SIZES}
    batch = max(share, key=share.get)
    return {"batch": batch, "worst_share_of_best": round(share[batch], 3),
            "shares": {str(b): round(v, 3) for b, v in share.items()}}


def bench_encoder(chunks: list, models: Path, repeats: int = 3) -> dict:
    """The fp32 and int8 ONNX encoders on the same chunks, as ingest embeds them (each distinct sentence
    once), in one run: best of `repeats` rounds, the two alternating so that both see the same load.
    The drops in hit@5 and answer accuracy come from `eval` runs on both suites, one per precision
    (ENCODER_EVALS, written by bench/encoder_precision.py from one eval run per precision)."""
    from assistant.embedding import Embedder

    embedders = {precision: Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=models, precision=precision)
                 for precision in ("fp32", "int8")}
    for embedder in embedders.values():
        embedder.embed_passages(["warm up"])
    best = {precision: float("inf") for precision in embedders}
    for _ in range(repeats):
        for precision, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_chunks(chunks)
            best[precision] = min(best[precision], time.perf_counter() - started)
    out = {"chunks": len(chunks), "fp32_chunks_per_s": round(len(chunks) / best["fp32"], 1),
           "int8_chunks_per_s": round(len(chunks) / best["int8"], 1),
           "int8_speedup": round(best["fp32"] / best["int8"], 2),
           "hit_at_5_drop_points": None, "accuracy_drop_points": None}
    if ENCODER_EVALS.is_file():
        out |= json.loads(ENCODER_EVALS.read_text())["drops"]
    log(f"ingest: encoder fp32 {out['fp32_chunks_per_s']} chunks/s, int8 {out['int8_chunks_per_s']} chunks/s")
    return out


def llama_equal_work(texts: list[str], embed_model, raw_s: float, product_s: float, llama_s: float) -> dict:
    """llama-index on the product's own chunks ("title\nchunk", each under the model's 256 tokens, so
    nothing is truncated) with its default embedding batch, beside the product and the raw encode of
    the same texts: each as a ratio to the raw encode, and llama-index's encode alone
    (`get_text_embedding_batch`), which tells its indexing overhead from its smaller batches."""
    started = time.perf_counter()
    embed_model.get_text_embedding_batch(texts)
    llama_encode = time.perf_counter() - started
    log(f"ingest: llama-index encode alone {llama_encode:.1f} s (batch {embed_model.embed_batch_size})")
    return {"chunks": len(texts), "llama_index_embed_batch_size": embed_model.embed_batch_size,
            "llama_index_s": round(llama_s, 2), "llama_index_encode_s": round(llama_encode, 2),
            "product_s": round(product_s, 2), "raw_encode_s": round(raw_s, 2),
            "product_vs_raw_encode": round(product_s / raw_s, 3), "llama_index_vs_raw_encode": round(llama_s / raw_s, 3),
            "llama_index_encode_vs_raw_encode": round(llama_encode / raw_s, 3),
            "product_speedup": round(llama_s / product_s, 2)}


# -- archive --------------------------------------------------------------------------------------
def _vm_hwm_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM, reset at exec), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def ingest_child(index_dir: Path, folder: Path, stop_at_fraction: float | None = None, papers: int | None = None,
                 env: dict[str, str] | None = None, sample_every: float = 5.0,
                 command: list[str] | None = None) -> dict:
    """`council-assistant -v ingest --json` in a child process, its peak RSS (its own plus its
    extraction worker's, sampled every 0.2 s) and wall time, with a timeline: the resident memory
    every `sample_every` seconds and each "batch written" line's chunk count. With `stop_at_fraction`,
    SIGKILLed once a "batch written" line counts at least that share of the folder's `papers` (the
    chunks to embed are known only at the end: papers are read as they are embedded). `command`
    replaces the ingest command (tests)."""
    import signal
    import threading

    started = time.perf_counter()
    # the report (every added path) outgrows a pipe's 64 KB at a few thousand papers, and the child would
    # block writing it while this process reads its standard error: it goes to a file instead
    report_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    command = command or [sys.executable, "-m", "assistant", "-v", "--index", str(index_dir), "ingest", "--json",
                          str(folder)]
    process = subprocess.Popen(command, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                               stdout=report_file, stderr=subprocess.PIPE, text=True)
    peaks = {"main": 0.0, "worker": 0.0}
    memory: list[tuple[float, float]] = []
    batches: list[tuple[float, int]] = []
    lines: list[str] = []

    def sample() -> None:
        last = -sample_every
        while process.poll() is None:
            peaks["main"] = max(peaks["main"], _vm_hwm_mb(process.pid))
            for child in _children(process.pid):
                peaks["worker"] = max(peaks["worker"], _vm_hwm_mb(child))
            now = time.perf_counter() - started
            if now - last >= sample_every:
                rss = _vm_rss_mb(process.pid) + sum(_vm_rss_mb(c) for c in _children(process.pid))
                memory.append((round(now, 1), round(rss, 1)))
                last = now
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    killed_at = None
    for line in process.stderr:
        lines.append(line)
        found = re.search(r"batch written: (\d+) of the chunk\(s\) so far embedded, from (\d+) paper", line)
        if not found:
            continue
        done, papers_done = int(found.group(1)), int(found.group(2))
        batches.append((round(time.perf_counter() - started, 1), done))
        if stop_at_fraction is not None and papers and stop_at_fraction * papers <= papers_done < papers:
            killed_at = done
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    report_file.seek(0)
    out = report_file.read() if killed_at is None else ""
    report_file.close()
    sampler.join()
    seconds = time.perf_counter() - started
    if killed_at is None and process.returncode != 0:
        raise RuntimeError(f"ingest failed ({process.returncode}):\n{''.join(lines[-20:])}")
    resumed = re.search(r"(\d+) chunk\(s\) already embedded", "".join(lines))
    embedding = re.search(r"embedding (\d+) chunk\(s\)", "".join(lines))
    embed_started = next((t for t, _ in batches), None)
    return {"seconds": seconds, "peak_rss_mb": round(peaks["main"] + peaks["worker"], 1),
            "peak_rss_main_mb": round(peaks["main"], 1), "peak_rss_worker_mb": round(peaks["worker"], 1),
            "killed_at_chunks": killed_at, "report": json.loads(out) if out else None,
            "resumed_chunks": int(resumed.group(1)) if resumed else 0,
            "to_embed": int(embedding.group(1)) if embedding else 0, "first_batch_s": embed_started,
            "memory": memory, "batches": batches}


def _vm_rss_mb(pid: int) -> float:
    """A live process's resident memory now (VmRSS), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def write_archive(folder: Path, papers: int, max_words: int | None, seed: int = 7) -> int:
    """`papers` generated papers and their manifest in `folder`, each cut after the last whole paragraph
    within `max_words` words (None: as generated, about 1,300 words and 22 chunks each); returns the words
    written. Shorter papers let 10,000 of them be ingested within an hour on a shared 2-core machine."""
    folder.mkdir(parents=True, exist_ok=True)
    documents, words = [], 0
    for i in range(papers):
        document = synthetic.generate_document(i, seed)
        if max_words is not None:
            kept, count = [], 0
            for paragraph in document.text.split("\n\n"):
                n = len(paragraph.split())
                if kept and count + n > max_words:
                    break
                kept.append(paragraph)
                count += n
            document = dataclasses.replace(document, text="\n\n".join(kept).rstrip("\n") + "\n")
        words += len(document.text.split())
        (folder / document.file_name).write_text(document.text, encoding="utf-8")
        documents.append(dataclasses.replace(document, text=""))
    (folder / "manifest.toml").write_text(synthetic.manifest_text(documents), encoding="utf-8")
    return words


def bench_archive(work: Path, papers: int, max_words: int | None = None, precision: str = "fp32") -> dict:
    """`papers` generated papers ingested from scratch with the `precision` encoder, killed (SIGKILL)
    half way through embedding and resumed: the archive's chunk count, the wall time of both runs,
    chunks/s, the peak RSS, whether the second run embedded only what the first had not, and a
    timeline of both runs (resident memory and chunks embedded against seconds since the start)."""
    folder = work / "archive-papers"
    index_dir = work / "archive-index"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    words = write_archive(folder, papers, max_words)
    env = {"COUNCIL_ASSISTANT_ENCODER_PRECISION": precision}
    log(f"archive: {papers:,} papers ({words:,} words) written; first run, {precision} encoder, killed half way")
    first = ingest_child(index_dir, folder, stop_at_fraction=0.5, papers=papers, env=env)
    log(f"archive: first run killed at {first['killed_at_chunks']} chunks after {first['seconds']:.0f} s")
    second = ingest_child(index_dir, folder, env=env)
    report = second["report"]
    chunks = ChunkStore.open(index_layout.current_build(index_dir), readonly=True)
    try:
        total = chunks.chunk_count()
    finally:
        chunks.close()
    # the archive's distinct texts: ingest encodes a text it met recently once, so at least this many
    texts = len(product_texts(index_dir))
    seconds = first["seconds"] + second["seconds"]
    resumed_ok = (first["killed_at_chunks"] is not None and second["resumed_chunks"] >= first["killed_at_chunks"]
                  and second["resumed_chunks"] + report["chunks_embedded"] == total)
    log(f"archive: resumed with {second['resumed_chunks']} chunks kept, {report['chunks_embedded']} embedded, "
        f"{seconds:.0f} s in all")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    offset = first["seconds"]
    timeline = {"memory": [[t, mb] for t, mb in first["memory"]] + [[round(t + offset, 1), mb] for t, mb in second["memory"]],
                "embedded": [[t, n] for t, n in first["batches"]]
                            + [[round(t + offset, 1), second["resumed_chunks"] + n] for t, n in second["batches"]],
                "killed_at_s": round(offset, 1)}
    return {"papers": papers, "chunks": total, "seconds": round(seconds, 1),
            "chunks_per_s": round(total / seconds, 1),
            "peak_rss_mb": max(first["peak_rss_mb"], second["peak_rss_mb"]),
            "resumed_after_kill": resumed_ok,
            "words": words, "max_words_per_paper": max_words, "encoder_precision": precision,
            "distinct_texts": texts, "distinct_texts_per_s": round(texts / seconds, 1),
            "peak_rss_main_mb": max(first["peak_rss_main_mb"], second["peak_rss_main_mb"]),
            "peak_rss_worker_mb": max(first["peak_rss_worker_mb"], second["peak_rss_worker_mb"]),
            "resume": {"killed_at_chunks": first["killed_at_chunks"], "first_run_s": round(first["seconds"], 1),
                       "first_run_peak_rss_mb": first["peak_rss_mb"],
                       "kept_chunks": second["resumed_chunks"], "embedded_after_resume": report["chunks_embedded"],
                       "second_run_s": round(second["seconds"], 1), "second_run_peak_rss_mb": second["peak_rss_mb"],
                       "second_run_first_batch_s": second["first_batch_s"]},
            "timeline": timeline}


# -- scale ----------------------------------------------------------------------------------------
class Pool:
    """Real vectors to derive from: the chunk and sentence vectors of an index the product built."""

    def __init__(self, index_dir: Path) -> None:
        build = index_layout.current_build(index_dir)
        ids, self.chunk_vectors = FaissVectors.load(build).contents()
        store = ChunkStore.open(build, readonly=True)
        rows = store.chunks([int(i) for i in ids])
        store.close()
        self.sentence_vectors = [rows[int(i)][2] for i in ids]
        self.rng = np.random.default_rng(0)

    def _noisy(self, vectors: np.ndarray) -> np.ndarray:
        scale = math.sqrt(1 / NOISE_COSINE ** 2 - 1) / math.sqrt(vectors.shape[1])
        out = vectors + self.rng.normal(scale=scale, size=vectors.shape).astype(np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def derive(self, count: int, sentences: list[int] | None) -> tuple[np.ndarray, list[np.ndarray | None]]:
        origins = self.rng.integers(0, len(self.chunk_vectors), count)
        chunk_vectors = self._noisy(self.chunk_vectors[origins])
        if sentences is None:
            return chunk_vectors, [None] * count
        out = []
        for origin, n in zip(origins, sentences):
            source = self.sentence_vectors[origin]
            if source is None or n == 0:
                out.append(None)
                continue
            out.append(self._noisy(source[np.arange(n) % len(source)].astype(np.float32)).astype(np.float16))
        return chunk_vectors, out


def sentence_spans_fast(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans by punctuation (the generated texts are plain); Punkt would take minutes at 1M."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        if end > start:
            spans.append((start, end))
    return tuple(spans)


def build_scaled(size: int, corpus_index: Path, pool: Pool, target: Path, with_sentences: bool,
                 models: Path) -> dict:
    """An index of the real corpus plus generated chunks up to `size`, vectors derived from `pool`."""
    started = time.perf_counter()
    corpus_build = index_layout.current_build(corpus_index)
    tmp = index_layout.new_build_dir(target)
    index_layout.copy_build(corpus_build, tmp)
    shutil.copy2(corpus_build / VECTORS_FILE, tmp / VECTORS_FILE)
    vectors = FaissVectors.load(tmp)
    store = ChunkStore.open(tmp)
    extra = size - len(vectors)
    records = synthetic.chunk_records(extra, seed=size)
    types = ["cabinet-member-update", "minutes", "report", "press-release"]
    written = 0
    paper = 0
    while written < extra:
        batch = [next(records)[1] for _ in range(min(PAPER_CHUNKS, extra - written))]
        title = batch[0].split("\n", 1)[0]
        bodies = [t.split("\n", 1)[1] for t in batch]
        text = "\n\n".join(bodies)
        year = 2015 + paper % 11
        meta = DocumentMeta(doc_id=f"generated-{size}-{paper}", title=title,
                            date=f"{year}-{1 + paper % 12:02d}-{1 + paper % 28:02d}", doc_type=types[paper % 4],
                            council="Generated Council")
        chunks, offset = [], 0
        for n, body in enumerate(bodies):
            chunks.append(Chunk(doc_id=meta.doc_id, ord=n, text=body, start=offset, end=offset + len(body),
                                sentences=sentence_spans_fast(body) if with_sentences else ()))
            offset += len(body) + 2
        store.put_document(Document(meta=meta, text=text, path=f"generated/{size}/{paper}"),
                           f"generated/{size}/{paper}", "-", "-")
        chunk_vectors, sentence_vectors = pool.derive(
            len(chunks), [len(c.sentences) for c in chunks] if with_sentences else None)
        vectors.add(store.put_chunks(chunks, sentence_vectors), chunk_vectors)
        written += len(chunks)
        paper += 1
        if paper % 5_000 == 0:
            store.commit()
            log(f"scale {size:,}: {len(vectors):,} chunks written")
    store.commit()
    generated = time.perf_counter() - started
    vectors = vectors.fitted()
    vectors.save(tmp)
    fitted = time.perf_counter() - started - generated
    ids, texts = [], []
    for rows in store.iter_index_texts():
        ids.extend(r[0] for r in rows)
        texts.extend(r[1] for r in rows)
    SparseIndex.build(np.asarray(ids, dtype=np.int64), texts).save(tmp)
    del texts
    store.close()
    manifest = index_layout.read_manifest(corpus_build)
    manifest.update(vector_store=vectors.description, vectors=vectors.record, chunks=len(ids),
                    documents=manifest["documents"] + paper)
    manifest.pop("format", None)
    build = index_layout.publish(target, tmp, {"format": index_layout.FORMAT_VERSION, **manifest})
    (target / index_layout.MODELS).mkdir(exist_ok=True)
    for model in models.glob("*.onnx"):
        os.link(model, target / index_layout.MODELS / model.name)
    seconds = time.perf_counter() - started
    log(f"scale {size:,}: built in {seconds:.0f} s ({vectors.description})")
    return {"build_s": round(seconds, 1), "vector_index": vectors.description,
            "index_fit_s": round(fitted, 1), "disk_mb": round(folder_bytes(build) / 1e6, 1),
            "vectors_mb": round((build / VECTORS_FILE).stat().st_size / 1e6, 1)}, vectors


def timed_top10(vectors, query_vectors: np.ndarray) -> tuple[dict, np.ndarray]:
    """Latency percentiles of a dense top-10 search per query, and the ids found (-1 pads a short row)."""
    times, found = [], []
    for q in query_vectors:
        started = time.perf_counter()
        hits = vectors.search(q, 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append([i for i, _ in hits] + [-1] * (10 - len(hits)))
    return percentiles(times), np.array(found)


def dense_comparison(vectors: FaissVectors, query_vectors: np.ndarray) -> dict:
    """recall@10 of the index's dense search against exact search, and both one's latency."""
    ids, stored = vectors.contents()
    exact = FaissVectors.create(stored.shape[1])
    exact.add(ids, stored)
    del stored
    out = {name: timed_top10(index, query_vectors) for name, index in (("exact", exact), ("index", vectors))}
    return {"recall_at_10": round(recall_at(out["exact"][1], out["index"][1]), 4),
            "dense_exact": out["exact"][0], "dense_index": out["index"][0]}


def milvus_comparison(vectors: FaissVectors, target: Path, query_vectors: np.ndarray, search_queries: list[str],
                      ask_queries: list[str], work: Path) -> dict:
    """Milvus beside FAISS on the same vectors (a standalone server on loopback): writing the vectors
    (insert + index, rows/s), dense search p50/p95 with recall@10 against exact FAISS search, and the
    product's search and ask through an index whose vectors live in Milvus, in a fresh process."""
    from assistant.errors import SettingsError
    from assistant.milvus_store import MilvusVectors, start_standalone

    try:
        server, uri = start_standalone(work / "milvus-data")
    except SettingsError as exc:
        log(f"milvus: skipped ({exc})")
        return {"skipped": str(exc)}
    build = index_layout.current_build(target)
    ids, stored = vectors.contents()
    store = ChunkStore.open(build, readonly=True)
    fields = store.filter_fields(ids)
    store.close()
    try:
        started = time.perf_counter()
        faiss_copy = FaissVectors.create(stored.shape[1])
        faiss_copy.add(ids, stored, fields)
        faiss_copy = faiss_copy.fitted()
        faiss_s = time.perf_counter() - started
        started = time.perf_counter()
        milvus = MilvusVectors.create(uri, "bench_scale", stored.shape[1])
        milvus.add(ids, stored, fields)
        milvus = milvus.fitted()
        milvus_s = time.perf_counter() - started
        exact = FaissVectors.create(stored.shape[1])  # never fitted: flat, the ground truth
        exact.add(ids, stored)
        del stored
        milvus.search(query_vectors[0], 10)  # the first search loads the collection's segments
        dense = {name: timed_top10(index, query_vectors) for name, index in (("faiss", faiss_copy), ("milvus", milvus))}
        truth = timed_top10(exact, query_vectors)[1]
        milvus_index = work / "milvus-index"
        tmp = index_layout.new_build_dir(milvus_index)
        index_layout.copy_build(build, tmp)
        shutil.copytree(build / "bm25", tmp / "bm25")
        manifest = index_layout.read_manifest(build)
        manifest.update(vector_store=milvus.description, vectors=milvus.record)
        index_layout.publish(milvus_index, tmp, manifest)
        (milvus_index / index_layout.MODELS).symlink_to(target / index_layout.MODELS)
        product = measure_in_fresh_process(milvus_index, search_queries, ask_queries)
        milvus.drop()
        milvus.close()
        row = {"rows": len(ids), "index": milvus.description,
               "write_rows_per_s": {"faiss": round(len(ids) / faiss_s), "milvus": round(len(ids) / milvus_s)},
               "write_s": {"faiss": round(faiss_s, 1), "milvus": round(milvus_s, 1)},
               "dense_faiss": dense["faiss"][0], "dense_milvus": dense["milvus"][0],
               "recall_at_10": {"faiss": round(recall_at(truth, dense["faiss"][1]), 4),
                                "milvus": round(recall_at(truth, dense["milvus"][1]), 4)},
               "search": product["search"], "ask": product["ask"]}
        shutil.rmtree(milvus_index, ignore_errors=True)
        return row
    finally:
        server.stop()


def measure_in_fresh_process(index_dir: Path, search_queries: list[str], ask_queries: list[str]) -> dict:
    payload = Path(tempfile.mkstemp(suffix=".json")[1])
    payload.write_text(json.dumps({"search": search_queries, "ask": ask_queries}))
    try:
        out = subprocess.run([sys.executable, __file__, "measure", str(index_dir), str(payload)],
                             capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"measure failed:\n{exc.stderr[-3000:]}") from exc
    finally:
        payload.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that
    over fork and exec, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(index_dir: Path, payload: Path) -> dict:
    """Run in a fresh process: search and ask latency over distinct queries, then the peak RSS."""
    from assistant.app import Assistant

    queries = json.loads(payload.read_text())
    started = time.perf_counter()
    assistant = Assistant(settings_for(index_dir))
    assistant.load()
    load_s = time.perf_counter() - started
    rss = peak_rss_mb
    loaded_rss = rss()
    assistant.search("warm up the retrievers", k=10)
    search_ms = []
    for q in queries["search"]:
        started = time.perf_counter()
        assistant.search(q, k=10)
        search_ms.append((time.perf_counter() - started) * 1000)
    searched_rss = rss()
    ask_ms = []
    for q in queries["ask"]:
        started = time.perf_counter()
        assistant.ask(q)
        ask_ms.append((time.perf_counter() - started) * 1000)
    return {"load_s": round(load_s, 2), "runtime": assistant.encoder.runtime_in_use,
            "search": percentiles(search_ms), "ask": percentiles(ask_ms),
            "rss_after_load_mb": loaded_rss, "rss_after_search_mb": searched_rss, "peak_rss_mb": rss()}


def cold_start(index_dir: Path, question: str, runs: int = 3) -> dict:
    """Seconds from starting `council-assistant ask` to its answer on standard output (median)."""
    cli = Path(sys.executable).with_name("council-assistant")
    env = {**os.environ, "COUNCIL_ASSISTANT_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen([str(cli), "ask", question], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=env)
        first = process.stdout.readline()
        times.append(time.perf_counter() - started)
        process.communicate()
        if process.returncode != 0 or not first.strip():
            raise SystemExit(f"cold start: ask failed ({process.returncode})")
    return {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times]}


# -- distractors ----------------------------------------------------------------------------------
def bench_distractors(work: Path, papers: int, torch_embedder, ingest_index: Path) -> dict:
    """Eval accuracy over the corpus alone and with `papers` generated papers in the same index."""
    from assistant.app import Assistant
    from assistant.eval_questions import DEFAULT_QUESTIONS, load_questions
    from assistant.eval_run import evaluate
    from assistant.evaluation import summarise

    questions = load_questions(DEFAULT_QUESTIONS)
    out = {"papers": papers}
    folder = work / "ingest-papers"  # the ingest section's papers are the first ones (prefix-stable),
    synthetic.write_corpus(folder, papers)  # so only the papers beyond them are embedded again
    mixed = work / "distractor-index"
    shutil.rmtree(mixed, ignore_errors=True)
    shutil.copytree(ingest_index, mixed, symlinks=True)
    for name, paths, index_dir in (("corpus_alone", [ROOT / "corpus"], work / "corpus-index"),
                                   ("with_distractors", [folder, ROOT / "corpus"], mixed)):
        assistant = Assistant(settings_for(index_dir, encoder_runtime="torch"), encoder=torch_embedder)
        started = time.perf_counter()
        report = assistant.ingest(paths)
        log(f"distractors: {name} ingest {time.perf_counter() - started:.0f} s")
        assert not report.failed, report.failed
        torch_embedder.clear_query_cache()
        summary = summarise(evaluate(assistant, questions))
        out[name] = {"chunks": assistant.info()["chunks"],
                     **{k: round(summary[k], 4) for k in ("answer_accuracy", "hit_at_1", "abstention_accuracy")}}
    bundled = tomllib.loads((ROOT / "corpus" / "manifest.toml").read_text(encoding="utf-8"))["defaults"]["council"]
    scoped = Assistant(settings_for(mixed, encoder_runtime="torch", council_scope=bundled), encoder=torch_embedder)
    torch_embedder.clear_query_cache()
    summary = summarise(evaluate(scoped, questions))
    out["scoped"] = {k: round(summary[k], 4) for k in ("answer_accuracy", "hit_at_1", "abstention_accuracy")}
    alone = out["corpus_alone"]["answer_accuracy"]
    out["accuracy_drop_points"] = round(100 * (alone - out["with_distractors"]["answer_accuracy"]), 1)
    out["scoped_accuracy_drop_points"] = round(100 * (alone - out["scoped"]["answer_accuracy"]), 1)
    return out


# -- report ---------------------------------------------------------------------------------------
def archive_targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    """The archive section's targets: peak RSS of a from-scratch ingest, and that it resumed."""
    archive = result.get("archive")
    if not archive:
        return []
    return [(f"peak RSS ingesting {archive['papers']:,} papers", TARGETS["archive_peak_rss_gb"],
             f"{archive['peak_rss_mb'] / 1024:.2f} GB", archive["peak_rss_mb"] / 1024 <= 3),
            ("killed first ingest resumes without re-embedding", "yes",
             "yes" if archive["resumed_after_kill"] else "no", archive["resumed_after_kill"])]


def archive_markdown(result: dict) -> list[str]:
    archive = result.get("archive")
    if not archive:
        return []
    resume = archive["resume"]
    texts = (f", {archive['distinct_texts']:,} distinct texts, at least that many encoded "
             f"({archive['distinct_texts_per_s']} a second)" if "distinct_texts" in archive else "")
    killed = (f"killed after {resume['killed_at_chunks']:,} chunks ({resume['first_run_s']:.0f} s), the second run "
              f"kept {resume['kept_chunks']:,} and embedded {resume['embedded_after_resume']:,} "
              f"({resume['second_run_s']:.0f} s)" if resume["killed_at_chunks"] is not None
              else f"the first run ended before it could be killed ({resume['first_run_s']:.0f} s)")
    return ["", f"**Archive**: {archive['papers']:,} generated papers ({archive['chunks']:,} chunks{texts}) ingested "
            f"from scratch in {archive['seconds'] / 60:.1f} min ({archive['chunks_per_s']} chunks/s), peak RSS "
            f"{archive['peak_rss_mb']:,.0f} MB; {killed}."]


def _rounds_text(ingest: dict) -> str:
    """How the ingest and raw encode figures were timed, when in alternating rounds."""
    rows = ingest.get("ingest_rounds")
    if not rows:
        return ""
    ratios = ", ".join(f"{row['ingest_s'] / row['raw_s']:.2f}×" for row in rows)
    return (f", medians of {len(rows)} alternating rounds after a first ingest of {ingest['first_ingest_s']:.1f} s "
            f"(ingest ÷ raw encode by round: {ratios})")


def batching_markdown(result: dict) -> list[str]:
    batching = (result.get("ingest") or {}).get("batching")
    if not batching:
        return []
    lines = ["", f"**Encoder batching** ({batching['texts']:,} texts ingest encodes, best of {batching['rounds']}; "
             "texts/s):", "", "| runtime | threads | sorted | " + " | ".join(
                 f"batch {b}" for b in BATCH_SIZES) + " |", "|---|---|---|" + "---|" * len(BATCH_SIZES)]
    for runtime, threads, ordered in sorted({(r["runtime"], r["threads"], r["sorted"]) for r in batching["rows"]}):
        cells = {r["batch"]: r["texts_per_s"] for r in batching["rows"]
                 if (r["runtime"], r["threads"], r["sorted"]) == (runtime, threads, ordered)}
        lines.append(f"| {runtime} | {threads} | {'yes' if ordered else 'no'} | "
                     + " | ".join(str(cells.get(b, "")) for b in BATCH_SIZES) + " |")
    return lines


def equal_work_markdown(result: dict) -> list[str]:
    equal = (result.get("ingest") or {}).get("llama_index_equal_work")
    if not equal:
        return []
    return ["", f"**Equal work** ({equal['chunks']:,} chunks of the product, llama-index's default batch of "
            f"{equal['llama_index_embed_batch_size']}, the same model):", "", "| | seconds | / raw encode |",
            "|---|---|---|",
            f"| raw `model.encode` of title + chunk (batch 64) | {equal['raw_encode_s']:.1f} | 1.00× |",
            f"| product ingest | {equal['product_s']:.1f} | {equal['product_vs_raw_encode']:.2f}× |",
            f"| llama-index `VectorStoreIndex` | {equal['llama_index_s']:.1f} | {equal['llama_index_vs_raw_encode']:.2f}× |",
            f"| llama-index encode alone | {equal['llama_index_encode_s']:.1f} | "
            f"{equal['llama_index_encode_vs_raw_encode']:.2f}× |"]


def targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    """(target, goal, measured, met) for every target the run's sections measured."""
    rows = archive_targets(result)
    ingest = result.get("ingest")
    if ingest:
        rows += [("ingest wall time / raw encode", TARGETS["ingest_vs_raw_encode"],
                  f"{ingest['ingest_vs_raw_encode']:.2f}×", ingest["ingest_vs_raw_encode"] <= 1.1),
                 ("ingest speed-up vs llama-index default", TARGETS["ingest_speedup_vs_llama_index"],
                  f"{ingest['ingest_speedup_vs_llama_index']:.2f}×", ingest["ingest_speedup_vs_llama_index"] >= 2)]
    scale = {row["size"]: row for row in result.get("scale", [])}
    if 100_000 in scale:
        row = scale[100_000]
        rows.append(("ask p50 at 100k chunks", TARGETS["ask_p50_ms_at_100k"], f"{row['ask']['p50_ms']:.0f} ms",
                     row["ask"]["p50_ms"] <= 50))
        if "cold_start" in row:
            rows.append(("cold start at 100k chunks", TARGETS["cold_start_s_at_100k"],
                         f"{row['cold_start']['median_s']:.2f} s", row["cold_start"]["median_s"] <= 3))
    if scale:
        largest = scale[max(scale)]
        label = f"{max(scale):,}".replace(",000,000", "M").replace(",000", "k")
        rows += [(f"search p50 at {label} chunks", TARGETS["search_p50_ms_at_1m"],
                  f"{largest['search']['p50_ms']:.0f} ms", largest["search"]["p50_ms"] <= 30),
                 (f"recall@10 at {label} chunks", TARGETS["recall_at_10_at_1m"], f"{largest['recall_at_10']:.3f}",
                  largest["recall_at_10"] >= 0.95),
                 (f"peak RSS at {label} chunks", TARGETS["peak_rss_gb_at_1m"],
                  f"{largest['peak_rss_mb'] / 1024:.2f} GB", largest["peak_rss_mb"] / 1024 <= 2.5)]
    d = result.get("distractors")
    if d:
        for key, label in (("accuracy_drop_points", ""), ("scoped_accuracy_drop_points", ", scoped to the council")):
            if key in d:
                rows.append((f"accuracy drop with {d['papers']:,} distractor papers{label}",
                             TARGETS["distractor_accuracy_drop_points"], f"{d[key]:.1f} points", d[key] <= 3))
    return rows


def markdown(result: dict) -> str:
    lines = [f"# Benchmark ({result['mode']} mode, {result['date']}, {result['machine']})", "",
             f"Run time {result['seconds'] / 60:.1f} min. Reproduce with `{result['command']}`.", "",
             "| target | goal | measured | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {goal} | {value} | {'yes' if ok else 'no'} |" for name, goal, value, ok in targets(result)]
    ingest = result.get("ingest")
    if ingest:
        lines += ["", f"**Ingest** of {ingest['papers']} generated papers ({ingest['chunks']:,} chunks, "
                  f"{ingest['words']:,} words): product {ingest['product_s']:.1f} s ({ingest['product_chunks_per_s']} "
                  f"chunks/s, {ingest['product_encode_s']:.1f} s of it encoding); the same encoder's raw encode of "
                  f"the {ingest.get('raw_encode_texts', 0):,} texts it encoded {ingest['raw_encode_s']:.1f} s "
                  f"({ingest['raw_chunks_per_s']} chunks/s){_rounds_text(ingest)}; llama-index "
                  f"`VectorStoreIndex.from_documents` {ingest['llama_index_s']:.1f} s ({ingest['llama_index_nodes']} "
                  f"nodes of up to 1,024 tokens, which the model truncates at 256: most of the text is never "
                  f"embedded); llama-index over the product's own chunks {ingest['llama_index_same_chunks_s']:.1f} s "
                  f"({ingest['ingest_speedup_vs_llama_index_same_chunks']:.2f}× the product's time)."]
    lines += batching_markdown(result) + equal_work_markdown(result) + archive_markdown(result)
    if result.get("scale"):
        lines += ["", "| chunks | vector index | search p50 / p95 | ask p50 / p95 | dense: exact p50 → index p50 "
                  "| recall@10 | peak RSS | disk | build |", "|---|---|---|---|---|---|---|---|---|"]
        for row in result["scale"]:
            ask = f"{row['ask']['p50_ms']:.0f} / {row['ask']['p95_ms']:.0f} ms" if row["ask"]["n"] else "not run"
            lines.append(f"| {row['size']:,} | {row['vector_index']} | {row['search']['p50_ms']:.1f} / "
                         f"{row['search']['p95_ms']:.1f} ms | {ask} | {row['dense_exact']['p50_ms']:.1f} → "
                         f"{row['dense_index']['p50_ms']:.1f} ms | {row['recall_at_10']:.3f} | "
                         f"{row['peak_rss_mb']:,.0f} MB | {row['disk_mb']:,.0f} MB | {row['build_s']:.0f} s |")
        cold = [r for r in result["scale"] if "cold_start" in r]
        if cold:
            lines += ["", "Cold start (`council-assistant ask`, process start to printed answer, warm file cache): "
                      + "; ".join(f"{r['size']:,} chunks {r['cold_start']['median_s']:.2f} s" for r in cold) + "."]
    milvus = [r for r in result.get("scale", []) if r.get("milvus") and "skipped" not in r["milvus"]]
    if milvus:
        lines += ["", "**Milvus beside FAISS** (the same vectors; Milvus 2.3.5 standalone on loopback, same machine):", "",
                  "| chunks | store | index | write (insert + index) | dense search p50 / p95 | recall@10 "
                  "| product search p50 / p95 | ask p50 / p95 |", "|---|---|---|---|---|---|---|---|"]
        for r in milvus:
            m = r["milvus"]
            for store, index, dense, search, ask in (
                    ("FAISS", r["vector_index"], m["dense_faiss"], r["search"], r["ask"]),
                    ("Milvus", m["index"], m["dense_milvus"], m["search"], m["ask"])):
                key = store.lower()
                lines.append(f"| {r['size']:,} | {store} | {index} | {m['write_rows_per_s'][key]:,} rows/s "
                             f"({m['write_s'][key]:.1f} s) | {dense['p50_ms']:.1f} / {dense['p95_ms']:.1f} ms | "
                             f"{m['recall_at_10'][key]:.3f} | {search['p50_ms']:.1f} / {search['p95_ms']:.1f} ms | "
                             f"{ask['p50_ms']:.0f} / {ask['p95_ms']:.0f} ms |")
    d = result.get("distractors")
    if d:
        lines += ["", f"**Distractors**: the eval questions over the corpus alone ({d['corpus_alone']['chunks']:,} "
                  f"chunks): answer accuracy {d['corpus_alone']['answer_accuracy']:.1%}, hit@1 "
                  f"{d['corpus_alone']['hit_at_1']:.1%}; with {d['papers']:,} generated papers "
                  f"({d['with_distractors']['chunks']:,} chunks): {d['with_distractors']['answer_accuracy']:.1%}, "
                  f"hit@1 {d['with_distractors']['hit_at_1']:.1%}."]
        if "scoped" in d:
            lines[-1] += (f" Scoped to the corpus's council, as a council's own deployment asks: "
                          f"{d['scoped']['answer_accuracy']:.1%}, hit@1 {d['scoped']['hit_at_1']:.1%}.")
    if result.get("concurrency"):
        c = result["concurrency"]
        lines += ["", f"**Concurrent users** (bench/concurrency.py): {json.dumps(c)}"]
    return "\n".join(lines) + "\n"


def plots(result: dict, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["scale"]]
    sizes = [r["size"] for r in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    for key, label in (("search", "search"), ("ask", "ask")):
        points = [(s, r[key]) for s, r in zip(sizes, rows) if r[key]["n"]]
        axis.plot([s for s, _ in points], [p["p50_ms"] for _, p in points], marker="o", label=f"{label} p50")
        axis.plot([s for s, _ in points], [p["p95_ms"] for _, p in points], marker="x", linestyle="--",
                  label=f"{label} p95")
    axis.plot(sizes, [r["dense_exact"]["p50_ms"] for r in rows], marker=".", linestyle=":",
              label="exact dense search p50")
    axis.set(xscale="log", xlabel="chunks in the index", ylabel="ms", title="Latency against corpus size")
    axis.legend()
    figure.tight_layout()
    latency = stem.with_name(stem.name + "-latency.png")
    figure.savefig(latency, dpi=110)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(sizes, [r["peak_rss_mb"] for r in rows], marker="o", label="peak RSS of search + ask")
    axis.plot(sizes, [r["disk_mb"] for r in rows], marker="x", label="index on disk")
    axis.set(xscale="log", xlabel="chunks in the index", ylabel="MB", title="Memory and disk against corpus size")
    axis.legend()
    figure.tight_layout()
    memory = stem.with_name(stem.name + "-memory.png")
    figure.savefig(memory, dpi=110)
    plt.close("all")
    return [latency, memory]


# -- main -----------------------------------------------------------------------------------------
def run(mode: str, work: Path, sections: tuple[str, ...] = SECTIONS, config: dict | None = None) -> dict:
    from assistant.embedding import Embedder
    from assistant.eval_questions import DEFAULT_QUESTIONS, load_questions

    config = config or MODES[mode]
    begun = time.perf_counter()
    if set(sections) == {"archive"}:  # the archive alone needs no model in this process
        result = {"mode": mode, "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs",
                  "command": f"python bench/scale.py run --mode {mode} --sections archive --archive-papers "
                             f"{config['archive_papers'] or MODES['full']['archive_papers']} --archive-words "
                             f"{config['archive_words'] or 0} --archive-precision {config['archive_precision']}"}
        result["archive"] = bench_archive(work, config["archive_papers"] or MODES["full"]["archive_papers"],
                                          config["archive_words"], config["archive_precision"])
        result["seconds"] = round(time.perf_counter() - begun, 1)
        result["targets"] = [{"target": n, "goal": g, "measured": v, "met": ok} for n, g, v, ok in targets(result)]
        return result
    torch_embedder = Embedder("all-MiniLM-L6-v2", runtime="torch")
    torch_embedder.embed_passages(["warm up"])
    result = {"mode": mode, "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs",
              "command": "make bench" if mode == "quick" else "make bench-full", "flat_limit": FLAT_LIMIT}
    if "ingest" in sections or not (work / "ingest-index").exists():
        result["ingest"], ingest_index = bench_ingest(work, config["ingest_papers"], torch_embedder,
                                                        config.get("ingest_rounds", 2))
    else:
        ingest_index = work / "ingest-index"

    models = work / "models"
    Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=models).load()
    from assistant.app import Assistant

    corpus_index = work / "corpus-index"
    corpus = Assistant(settings_for(corpus_index, encoder_runtime="torch"), encoder=torch_embedder)
    corpus.ingest([ROOT / "corpus"])
    pool = Pool(ingest_index)
    eval_questions = [q.question for q in load_questions(DEFAULT_QUESTIONS)]
    generated = synthetic.questions(2 * config["queries"], seed=1)
    search_queries = (eval_questions + generated)[:config["queries"]]
    ask_queries = [q for q in generated if q not in search_queries][:config["queries"]]
    query_vectors = Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=models).embed_passages(search_queries)

    result["scale"] = []
    for size in config["sizes"] if "scale" in sections else []:
        target = work / f"scale-{size}"
        with_sentences = size <= 100_000
        row, vectors = build_scaled(size, corpus_index, pool, target, with_sentences, models)
        row.update(dense_comparison(vectors, query_vectors))
        row.update(measure_in_fresh_process(target, search_queries, ask_queries if with_sentences else []))
        if size == 100_000:
            row["cold_start"] = cold_start(target, "Who attends the Improvement Board?")
            row["milvus"] = milvus_comparison(vectors, target, query_vectors, search_queries, ask_queries, work)
        del vectors
        result["scale"].append({"size": size, **row})
        log(f"scale {size:,}: {json.dumps(row)}")
        shutil.rmtree(target)

    if "distractors" in sections:
        result["distractors"] = bench_distractors(work, config["distractor_papers"], torch_embedder, ingest_index)
    if "archive" in sections and config.get("archive_papers"):
        result["archive"] = bench_archive(work, config["archive_papers"], config["archive_words"],
                                          config["archive_precision"])
    concurrency = RESULTS / "concurrency.json"
    if concurrency.is_file():
        result["concurrency"] = json.loads(concurrency.read_text())
    result["seconds"] = round(time.perf_counter() - begun, 1)
    result["targets"] = [{"target": n, "goal": g, "measured": v, "met": ok} for n, g, v, ok in targets(result)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="run the benchmark")
    go.add_argument("--mode", choices=sorted(MODES), default="quick")
    go.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed afterwards)")
    go.add_argument("--sizes", help="comma-separated chunk counts instead of the mode's")
    go.add_argument("--distractor-papers", type=int, help="generated papers beside the corpus instead of the mode's")
    go.add_argument("--archive-papers", type=int,
                    help="generated papers of the archive section instead of the mode's (quick mode: none)")
    go.add_argument("--archive-words", type=int,
                    help="cut each archive paper after its last whole paragraph within this many words "
                         "(0: papers as generated, about 21 chunks each, as full mode has them)")
    go.add_argument("--archive-precision", choices=("fp32", "int8"),
                    help="the encoder the archive is ingested with (default int8)")
    go.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {','.join(SECTIONS)} (a partial run writes <mode>-partial.*)")
    child = sub.add_parser("measure", help=argparse.SUPPRESS)
    child.add_argument("index_dir", type=Path)
    child.add_argument("payload", type=Path)
    args = parser.parse_args(argv)
    if args.command == "measure":
        print(json.dumps(measure(args.index_dir, args.payload)))
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="council-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        sections = tuple(s for s in args.sections.split(",") if s)
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            parser.error(f"--sections: unknown {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
        config = dict(MODES[args.mode])
        if args.sizes:
            try:
                config["sizes"] = [int(s.replace("_", "")) for s in args.sizes.split(",")]
            except ValueError:
                parser.error(f"--sizes {args.sizes!r}: give chunk counts separated by commas, e.g. 10000,100000")
        if args.distractor_papers:
            config["distractor_papers"] = args.distractor_papers
        if args.archive_papers:
            config["archive_papers"] = args.archive_papers
        if args.archive_words is not None:
            config["archive_words"] = args.archive_words or None
        if args.archive_precision:
            config["archive_precision"] = args.archive_precision
        result = run(args.mode, work, sections, config)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    partial = set(sections) != set(SECTIONS) or args.sizes or args.distractor_papers or args.archive_papers
    stem = RESULTS / (f"{args.mode}-{'-'.join(sections)}" if partial else args.mode)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    if result.get("scale"):
        plots(result, stem)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
