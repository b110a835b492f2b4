"""Plots of issue 19's figures (the README's performance section) from the results files in bench/results/.

    python bench/plots.py

- archive-timeline.png: chunks embedded and resident memory against time, through the kill and the
  resumed run (the `archive` of full.json, else of full-archive.json);
- encoder-precision.png: chunks/s of the fp32 and int8 encoders on the same chunks (`ingest.encoder`);
- ingest-equal-work.png: product ingest, llama-index and its encode alone, each as a multiple of the raw
  `model.encode` of the same chunks (`ingest.llama_index_equal_work`);
- bm25-memory.png: peak memory of the streamed and one-shot BM25 builds (bm25-memory.json).
Each plot is drawn from the first results file that holds its figures and skipped when none does.
It then prints the README's table of issue 19's targets, each with its measured figure and source.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ARCHIVE_FILES = ("full.json", "full-archive.json")
INGEST_FILES = ("full.json", "full-ingest.json", "quick.json", "quick-ingest.json")


def first_with(names: tuple[str, ...], *keys: str) -> tuple[str, dict] | None:
    """The first results file among `names` whose JSON holds the nested `keys`, and that value."""
    for name in names:
        path = RESULTS / name
        if not path.is_file():
            continue
        value = json.loads(path.read_text())
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            return name, value
    return None


def archive_timeline(plt, source: str, archive: dict) -> Path | None:
    timeline = archive.get("timeline")
    if not timeline:
        return None
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    killed = timeline["killed_at_s"] / 60
    kept = archive["resume"]["kept_chunks"]
    first = [(0.0, 0)] + [(t / 60, n) for t, n in timeline["embedded"] if t / 60 <= killed]
    second = [(killed, kept)] + [(t / 60, n) for t, n in timeline["embedded"] if t / 60 > killed]
    for points, label in ((first, "first run: chunks embedded"), (second, f"second run (kept {kept:,})")):
        top.plot([t for t, _ in points], [n for _, n in points], marker=".", label=label)
    for axis in (top, bottom):
        axis.axvline(killed, color="tab:red", linestyle="--", linewidth=1)
    top.annotate("SIGKILL, then run again", (killed, archive["resume"]["killed_at_chunks"]),
                 textcoords="offset points", xytext=(6, -14), color="tab:red", fontsize=8)
    top.set(ylabel="chunks", title=f"Archive: {archive['papers']:,} papers, {archive['chunks']:,} chunks "
            f"({archive.get('encoder_precision', 'fp32')} encoder)")
    top.legend(loc="upper left", fontsize=8)
    memory = timeline["memory"]
    bottom.plot([t / 60 for t, _ in memory], [mb for _, mb in memory], color="tab:green",
                label="resident memory of ingest + extraction worker")
    bottom.axhline(3 * 1024, color="grey", linestyle=":", label="target 3 GB")
    bottom.set(xlabel="minutes since the first run started", ylabel="MB")
    bottom.legend(loc="center left", fontsize=8)
    figure.text(0.99, 0.005, f"bench/results/{source}", ha="right", fontsize=7, color="grey")
    figure.tight_layout()
    path = RESULTS / "archive-timeline.png"
    figure.savefig(path, dpi=110)
    return path


def encoder_bars(plt, source: str, encoder: dict) -> Path:
    figure, axis = plt.subplots(figsize=(5, 3.5))
    values = [encoder["fp32_chunks_per_s"], encoder["int8_chunks_per_s"]]
    bars = axis.bar(["fp32", "int8"], values, color=["tab:blue", "tab:orange"])
    axis.bar_label(bars, labels=[f"{v:.1f}" for v in values])
    axis.margins(y=0.12)
    axis.set(ylabel="chunks/s (ONNX Runtime, 2 cores)",
             title=f"Encoder on the same {encoder['chunks']:,} chunks: int8 {encoder['int8_speedup']:.2f}×")
    figure.text(0.99, 0.005, f"bench/results/{source}", ha="right", fontsize=7, color="grey")
    figure.tight_layout()
    path = RESULTS / "encoder-precision.png"
    figure.savefig(path, dpi=110)
    return path


def equal_work_bars(plt, source: str, equal: dict) -> Path:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    labels = ["raw encode", "product ingest", "llama-index\nVectorStoreIndex", "llama-index\nencode alone"]
    values = [1.0, equal["product_vs_raw_encode"], equal["llama_index_vs_raw_encode"],
              equal["llama_index_encode_vs_raw_encode"]]
    bars = axis.bar(labels, values, color=["grey", "tab:blue", "tab:purple", "tab:pink"])
    axis.bar_label(bars, labels=[f"{v:.2f}×" for v in values])
    axis.margins(y=0.12)
    axis.set(ylabel="wall time / raw encode", title=f"Equal work: the same {equal['chunks']:,} chunks, same model")
    figure.text(0.99, 0.005, f"bench/results/{source}", ha="right", fontsize=7, color="grey")
    figure.tight_layout()
    path = RESULTS / "ingest-equal-work.png"
    figure.savefig(path, dpi=110)
    return path


def bm25_bars(plt, builds: list[dict]) -> Path:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    sizes = sorted({b["chunks"] for b in builds})
    width = 0.38
    for k, method in enumerate(("streamed", "one-shot")):
        values = [next(b["build_peak_mb"] for b in builds if b["chunks"] == s and b["method"] == method)
                  for s in sizes]
        bars = axis.bar([i + (k - 0.5) * width for i in range(len(sizes))], values, width, label=method)
        axis.bar_label(bars, labels=[f"{v:.0f} MB" for v in values], fontsize=8)
    axis.set_xticks(range(len(sizes)), [f"{s:,} chunks" for s in sizes])
    axis.margins(y=0.12)
    axis.set(ylabel="peak memory of the build (MB)", title="BM25 build: streamed against one-shot")
    axis.legend()
    figure.text(0.99, 0.005, "bench/results/bm25-memory.json", ha="right", fontsize=7, color="grey")
    figure.tight_layout()
    path = RESULTS / "bm25-memory.png"
    figure.savefig(path, dpi=110)
    return path


def _row(name: str, goal: str, measured: str, met: bool | None, source: str) -> str:
    verdict = "not measured" if met is None else "yes" if met else "no"
    return f"| {name} | {goal} | {measured} | {verdict} | {source} |"


def targets_table() -> str:
    """Issue 19's targets as a Markdown table, each with its figure from the results files."""
    rows = ["| target | goal | measured | met | from |", "|---|---|---|---|---|"]
    found = first_with(INGEST_FILES, "ingest", "encoder")
    if found:
        source, e = found
        rows.append(_row("int8 encoder speed-up (same chunks, one run)", "≥ 1.8×",
                         f"{e['int8_speedup']:.2f}× ({e['fp32_chunks_per_s']:.1f} → {e['int8_chunks_per_s']:.1f} "
                         f"chunks/s, {e['chunks']:,} chunks)", e["int8_speedup"] >= 1.8, source))
    evals = RESULTS / "encoder-precision.json"
    if evals.is_file():
        drops = json.loads(evals.read_text())["drops"]
        rows.append(_row("int8 retrieval loss, worst of both suites", "≤ 1 point",
                         f"hit@5 {drops['hit_at_5_drop_points']:.1f}, MRR {drops['mrr_drop_points']:.1f} points",
                         max(drops["hit_at_5_drop_points"], drops["mrr_drop_points"]) <= 1, evals.name))
        answer_drop = drops.get("answer_accuracy_drop_points", drops["accuracy_drop_points"])
        rows.append(_row("int8 answer accuracy loss, worst of both suites", "≤ 1 point",
                         f"accuracy {drops['accuracy_drop_points']:.1f}, answer accuracy {answer_drop:.1f} points",
                         max(drops["accuracy_drop_points"], answer_drop) <= 1, evals.name))
    found = first_with(ARCHIVE_FILES, "archive")
    if found:
        source, a = found
        rows.append(_row(f"{a['papers']:,} papers ingested from scratch: peak RSS", "≤ 3 GB",
                         f"{a['peak_rss_mb'] / 1024:.2f} GB ({a['chunks']:,} chunks, {a['seconds'] / 60:.1f} min, "
                         f"{a['chunks_per_s']} chunks/s"
                         + (f"; {a['chunks_per_s_without_stall']} without the bench's {a['bench_stall_s'] / 60:.1f}-min "
                            "stall" if "bench_stall_s" in a else "") + ")",
                         a["papers"] >= 10_000 and a["peak_rss_mb"] <= 3 * 1024, source))
        rows.append(_row("killed first ingest resumes without re-embedding", "yes",
                         f"{'yes' if a['resumed_after_kill'] else 'no'} (kept {a['resume']['kept_chunks']:,}, "
                         f"embedded {a['resume']['embedded_after_resume']:,})", a["resumed_after_kill"], source))
    else:
        rows.append(_row("10,000 papers ingested from scratch: peak RSS", "≤ 3 GB", "not run", None, "full.json"))
    for name in INGEST_FILES:
        found = first_with((name,), "ingest")
        if found:
            i = found[1]
            rows.append(_row(f"ingest wall time / raw encode ({i['chunks']:,} chunks)", "≤ 1.1×",
                             f"{i['ingest_vs_raw_encode']:.2f}×", i["ingest_vs_raw_encode"] <= 1.1, name))
    found = first_with(("ingest-overhead.json",))
    if found:
        o = found[1]
        rows.append(_row(f"ingest wall time / raw encode ({o['free_encoder_profile']['chunks']:,} chunks, "
                         f"batches of {o['ingest_batch_chunks']}, one run)", "≤ 1.1×",
                         f"{o['ingest_vs_raw_encode']:.2f}× ({o['ingest_in_turn_vs_raw_encode']:.2f}× reading in turn)",
                         o["ingest_vs_raw_encode"] <= 1.1, found[0]))
    found = first_with(("quick.json",), "seconds")
    if found:
        rows.append(_row("quick benchmark (`make bench`, CI)", "< 10 min", f"{found[1] / 60:.1f} min",
                         found[1] < 600, "quick.json"))
    found = first_with(("bm25-memory.json",), "builds")
    if found:
        for size in sorted({b["chunks"] for b in found[1]}):
            by = {b["method"]: b for b in found[1] if b["chunks"] == size}
            rows.append(_row(f"BM25 build memory at {size:,} chunks, streamed vs one-shot", "does not hold the text",
                             f"{by['streamed']['build_peak_mb']:.0f} MB vs {by['one-shot']['build_peak_mb']:.0f} MB "
                             f"({by['streamed']['seconds']:.0f} s vs {by['one-shot']['seconds']:.0f} s)",
                             by["streamed"]["build_peak_mb"] < by["one-shot"]["build_peak_mb"], "bm25-memory.json"))
    return "\n".join(rows)


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    found = first_with(ARCHIVE_FILES, "archive")
    if found and (path := archive_timeline(plt, *found)):
        written.append(path)
    found = first_with(INGEST_FILES, "ingest", "encoder")
    if found:
        written.append(encoder_bars(plt, *found))
    found = first_with(INGEST_FILES, "ingest", "llama_index_equal_work")
    if found:
        written.append(equal_work_bars(plt, *found))
    found = first_with(("bm25-memory.json",), "builds")
    if found:
        written.append(bm25_bars(plt, found[1]))
    plt.close("all")
    for path in written:
        print(path.relative_to(RESULTS.parents[1]))
    print(targets_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
