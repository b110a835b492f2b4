"""Memory while ingest embeds: resident memory per batch and what Python allocated between batches.

A bounded probe of the growth the archive run showed (about 12 KB a chunk while embedding): it writes
generated papers (`scale.write_archive`), ingests them from scratch in this process and, after each
batch is written, prints the RSS of this process and of its extraction worker, and (with
`--tracemalloc`) the source lines whose live Python allocations grew most since the batch before.
`--gc` runs `gc.collect()` and `--trim` glibc's `malloc_trim(0)` before each sample, and running it
under `MALLOC_ARENA_MAX=2` limits glibc's arenas: what those remove is the allocator holding freed
memory, what they leave is memory still referenced. The encoder is a hash-seeded stand-in (`fake`,
no model, 384 dimensions like the packaged model, no cache) or the real one (`int8`, `fp32`).

    python bench/memory_probe.py --papers 8000 --words 120 --tracemalloc
    MALLOC_ARENA_MAX=2 python bench/memory_probe.py --papers 8000 --trim

The slope is a least-squares fit of RSS (main + worker) against chunks embedded over the batches after
the first `--warmup`; "peak" is VmHWM of both processes.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

from assistant import ingest as ingest_module  # noqa: E402
from assistant.embedding import chunk_vectors  # noqa: E402
from assistant.settings import Settings  # noqa: E402


class SeededEncoder:
    """The `Encoder` protocol without a model: each text's vector is seeded by its hash, nothing kept."""

    model_id = "bench/seeded-encoder"
    precision = "fp32"
    dimension = 384

    def record(self) -> dict[str, object]:
        return {"model": self.model_id, "dimension": self.dimension, "precision": self.precision,
                "query_prompt": "", "document_prompt": ""}

    def load(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def embed_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for n, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                  "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension)
            out[n] = vector / np.linalg.norm(vector)
        return out

    def embed_chunks(self, chunks, progress: bool = False):
        return chunk_vectors(chunks, self.embed_passages)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]

    def clear_query_cache(self) -> None:
        pass


def _status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _mapped_mb(pid: int) -> dict[str, float]:
    """This process's resident memory by kind of mapping (smaps): the brk heap (glibc's main arena),
    anonymous mappings (other threads' arenas, large allocations, native pools) and files."""
    out = {"heap": 0.0, "anon": 0.0, "file": 0.0}
    kind = "file"
    try:
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else ""
                kind = "heap" if name == "[heap]" else "anon" if not name or name.startswith("[anon") else "file"
            elif head and head[0] == "Rss:":
                out[kind] += int(head[1]) / 1024
    except OSError:
        pass
    return {k: round(v, 1) for k, v in out.items()}


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def malloc_trim() -> bool:
    """glibc's malloc_trim(0): give freed heap memory back to the system (False where there is none)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def slope_kb_per_chunk(samples: list[dict], warmup: int) -> float | None:
    """Least-squares KB of RSS (main + worker) per chunk embedded, over the samples after `warmup`."""
    kept = [s for s in samples[warmup:] if s["worker_mb"] > 0] or samples[warmup:]
    if len(kept) < 2:
        return None
    x = np.array([s["chunks"] for s in kept], dtype=float)
    y = np.array([s["rss_mb"] for s in kept], dtype=float) * 1024
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def _patch_session(variant: str) -> None:
    """Make ONNX Runtime sessions without the memory pattern (`no-pattern`) or the CPU arena too
    (`no-arena`), to tell the runtime's own caches from ingest's."""
    import onnxruntime

    made = onnxruntime.InferenceSession

    def session(path, options=None, *args, **kwargs):
        options = options or onnxruntime.SessionOptions()
        options.enable_mem_pattern = False
        if variant == "no-arena":
            options.enable_cpu_mem_arena = False
        return made(path, options, *args, **kwargs)

    onnxruntime.InferenceSession = session


def probe(papers: int, words: int | None, batch: int, encoder_name: str, trace: bool, collect: bool,
          trim: bool, warmup: int, top: int, models: Path | None = None, session: str = "default") -> dict:
    if encoder_name == "fake":
        encoder = SeededEncoder()
    else:
        from assistant.embedding import Embedder

        defaults = Settings()
        encoder = Embedder(defaults.embedding_model, defaults.embed_batch_size, "onnx", models, encoder_name)
        if session != "default":
            _patch_session(session)
    samples: list[dict] = []
    original = ingest_module._Build.flush
    state = {"snapshot": None, "embedded": -1}

    def flush(build) -> None:
        original(build)
        if build.embedded == state["embedded"]:
            return
        state["embedded"] = build.embedded
        if collect:
            gc.collect()
        if trim:
            malloc_trim()
        pid = __import__("os").getpid()
        workers = _children(pid)
        main, worker = _status_mb(pid, "VmRSS"), sum(_status_mb(c, "VmRSS") for c in workers)
        sample = {"chunks": build.embedded, "rss_mb": round(main + worker, 1), "main_mb": round(main, 1),
                  "worker_mb": round(worker, 1), "mapped_mb": _mapped_mb(pid)}
        if trace:
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)])
            sample["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
            if state["snapshot"] is not None:
                grown = snapshot.compare_to(state["snapshot"], "lineno")[:top]
                sample["grown"] = [f"{stat.size_diff / 1024:+.0f} KB {stat.count_diff:+d} "
                                   f"{stat.traceback[0].filename.removeprefix(str(ROOT) + '/')}:"
                                   f"{stat.traceback[0].lineno}" for stat in grown]
            state["snapshot"] = snapshot
        samples.append(sample)
        print(json.dumps(sample), file=sys.stderr, flush=True)

    ingest_module._Build.flush = flush
    if trace:
        tracemalloc.start(1)
    with tempfile.TemporaryDirectory() as work:
        folder, index_dir = Path(work) / "papers", Path(work) / "index"
        written = scale.write_archive(folder, papers, words)
        settings = Settings(index_dir=index_dir, ingest_batch_chunks=batch, progress=False)
        started = time.perf_counter()
        report = ingest_module.ingest([folder], settings, encoder)
        seconds = time.perf_counter() - started
    pid = __import__("os").getpid()
    return {"papers": papers, "words": written, "batch_chunks": batch, "encoder": encoder_name,
            "session": session, "gc": collect, "malloc_trim": trim, "tracemalloc": trace,
            "malloc_arena_max": __import__("os").environ.get("MALLOC_ARENA_MAX"),
            "chunks": report.chunks_embedded, "seconds": round(seconds, 1),
            "slope_kb_per_chunk": slope_kb_per_chunk(samples, warmup),
            "rss_first_mb": samples[0]["rss_mb"] if samples else None,
            "rss_last_mb": samples[-1]["rss_mb"] if samples else None,
            "peak_rss_main_mb": round(_status_mb(pid, "VmHWM"), 1), "samples": samples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=8000)
    parser.add_argument("--words", type=int, default=120, help="word budget of each paper (0: whole papers)")
    parser.add_argument("--batch", type=int, default=1024, help="ingest_batch_chunks")
    parser.add_argument("--encoder", choices=("fake", "int8", "fp32"), default="fake")
    parser.add_argument("--models", type=Path, help="folder holding the ONNX export (real encoders)")
    parser.add_argument("--session", choices=("default", "no-pattern", "no-arena"), default="default",
                        help="ONNX Runtime memory options (real encoders)")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--gc", action="store_true")
    parser.add_argument("--trim", action="store_true", help="glibc malloc_trim(0) before each sample")
    parser.add_argument("--warmup", type=int, default=3, help="batches left out of the slope")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = probe(args.papers, args.words or None, args.batch, args.encoder, args.tracemalloc, args.gc,
                   args.trim, args.warmup, args.top, args.models, args.session)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
