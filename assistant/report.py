"""The evaluation report: report.md, results.json and PNG charts in the output folder, and the summary
printed to standard output, for one or more suites side by side.

Renders what `evaluation` measured (`EvalRun`s and their `summary_json`); computes no figure of its own
beyond per-split category breakdowns for the tables and charts.
"""
from __future__ import annotations

import json
from dataclasses import replace
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .eval_questions import SPLITS
from .evaluation import (
    FLOOR_MARGIN,
    PRODUCT,
    EvalRun,
    QuestionResult,
    breakdown,
    floors_toml,
    report_category,
    propose_floors,
    summary_json,
)

CATEGORY_CHART = "accuracy_by_category.png"
BASELINE_CHART = "product_vs_baselines.png"
TABLE_METRICS = (("accuracy", "accuracy"), ("precision", "precision"), ("answered_share", "answered"),
                 ("answer_accuracy", "answer acc."), ("hit_at_1", "hit@1"),
                 ("hit_at_5", "hit@5"), ("mrr", "MRR"), ("citation_precision", "citation prec."),
                 ("first_citation_accuracy", "first citation"), ("abstention_accuracy", "abstention acc."),
                 ("false_abstention_rate", "false abstention"))
SIDE_METRICS = (("questions", "questions"), ("accuracy", "accuracy"), ("precision", "precision"),
                ("abstention_accuracy", "abstention"), ("answer_accuracy", "answer acc."),
                ("citation_precision", "citation prec."), ("hit_at_1", "hit@1"), ("hit_at_5", "hit@5"),
                ("mrr", "MRR"), ("latency_p50_ms", "latency p50 ms"))
CATEGORIES = ("figure", "date", "person", "decision", "vote", "multi-doc", "paraphrase", "unanswerable")
BASELINE_METRICS = (("hit_at_1", "hit@1"), ("hit_at_5", "hit@5"), ("mrr", "MRR"),
                    ("answer_accuracy", "answer acc."), ("abstention_accuracy", "abstention acc."),
                    ("citation_precision", "citation prec."), ("answer_words", "answer words"),
                    ("latency_p50_ms", "p50 ms"))


def _fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric.endswith("_ms") or metric == "answer_words":
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    if metric in ("questions", "answerable", "unanswerable", "n"):
        return str(value)
    return f"{value:.3f}" if metric == "mrr" else f"{100 * value:.1f}%"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _failure_lines(result: QuestionResult) -> list[str]:
    q = result.question
    if not q.answerable:
        problem = "answered a question the papers cannot answer"
    elif not result.answered:
        problem = "declined to answer (false abstention)"
    else:
        problem = "missing " + "; ".join(" / ".join(f'"{alt}"' for alt in fact) for fact in result.missing)
    lines = [f"### {q.id} ({q.category}): {q.question}", "", f"- **What went wrong:** {problem}",
             f"- **Answer:** {' '.join(result.answer.split())}"]
    if q.answerable:
        lines.append(f"- **Expected sources:** {', '.join(q.sources)}; documents retrieved: "
                     f"{', '.join(result.ranking) or 'none'}; cited: {', '.join(result.cited) or 'none'}")
    elif q.note:
        lines.append(f"- **Why unanswerable:** {q.note}")
    return lines + [""]


def _judge_line(judged: dict[str, Any]) -> str:
    if "note" in judged:
        return judged["note"][:1].upper() + judged["note"][1:] + "."
    counts = judged.get("judged", {})
    parts = [f"{name} {_fmt(judged.get(name), 'accuracy')} of {counts.get(name, 0)} answered questions"
             for name in ("faithfulness", "relevancy")]
    errors = f"; {judged['errors']} judge call(s) failed" if judged.get("errors") else ""
    return f"Judged by {judged.get('judge')} with llama-index's evaluators: {', '.join(parts)}{errors}."


def render_suite(run: EvalRun, summary: dict[str, Any]) -> list[str]:
    """One suite's section of report.md: summary, per-split, per-category and baseline tables, floors,
    and every failure."""
    info, systems = run.info, summary["systems"]
    product = systems[PRODUCT]
    splits = [s for s in product["by_split"] if s != "all" or len(product["by_split"]) > 2]
    fresh = f", built fresh from `{info['corpus']}`" if info["corpus"] else ""
    lines = [f"## Suite: {run.suite}", "",
             f"{info['questions']} questions from `{info['questions_file']}` (split: {info['split']}), "
             f"{info['date']}. Index: {info['documents']} papers, {info['chunks']} chunks, "
             f"{info['embedding_model']}{fresh}. "
             f"Answerer: {info['answerer']} (min_evidence {info['min_evidence']}). Retrieval is scored by "
             f"source document over the top {info['depth']} passages.", ""]
    if info.get("unindexed"):
        lines += [f"Not indexed (failed to ingest; their questions count as misses, not skips): "
                  f"{', '.join(info['unindexed'])}; questions: {', '.join(info.get('expected_misses', [])) or 'none'}.", ""]
    lines += ["### Summary (product)", ""]
    lines += _table(["metric", *splits], (
        [label, *(_fmt(product["by_split"][s][m], m) for s in splits)]
        for m, label in (("questions", "questions"), *TABLE_METRICS, ("latency_p50_ms", "latency p50 ms"),
                         ("latency_p95_ms", "latency p95 ms"))))
    lines += ["", "Answer accuracy: answered and every key fact present (answerable questions). Abstention "
              "accuracy: declined on unanswerable questions. Accuracy: either, over all questions.", ""]
    lines += ["### Faithfulness and relevancy (LLM judge)", "", _judge_line(info.get("llm_judge") or {}), ""]
    if _chart(run, CATEGORY_CHART) in summary.get("charts", ()):
        lines += [f"![Accuracy by category]({_chart(run, CATEGORY_CHART)})", ""]
    lines += ["### By category (product)", ""]
    categories = product["by_category"]
    columns = (("questions", "n"), ("accuracy", "accuracy"), ("hit_at_1", "hit@1"), ("mrr", "MRR"),
               ("citation_precision", "citation prec."), ("first_citation_accuracy", "first citation"),
               ("false_abstention_rate", "false abstention"))
    split_accuracy = {s: breakdown([r for r in run.product if r.question.split == s], lambda r: report_category(r.question))
                      for s in SPLITS if s in splits}
    lines += _table(["category", *(label for _, label in columns), *(f"{s} accuracy" for s in split_accuracy)], (
        [name, *(_fmt(figures[m], m) for m, _ in columns),
         *(_fmt(split_accuracy[s].get(name, {}).get("accuracy"), "accuracy") for s in split_accuracy)]
        for name, figures in categories.items()))
    lines.append("")
    if len(systems) > 1:
        lines += ["### Product and baselines", ""]
        for split in splits:
            lines += [f"**{split}**", ""]
            lines += _table(["system", *(label for _, label in BASELINE_METRICS)], (
                [name, *(_fmt(figures["by_split"][split][m], m) for m, _ in BASELINE_METRICS)]
                for name, figures in systems.items()))
            lines.append("")
        lines += ["The baselines have no answerer: each one's \"answer\" is the text of its top two retrieved "
                  "passages, it never abstains, and those two passages are its citations. Their answer accuracy "
                  "is whether the key facts are somewhere in those passages, so it rises with passage length "
                  "(see \"answer words\"): llama-index's default chunks (1,024 tokens) hold a whole paper of this "
                  "corpus each. `bm25` and `dense` search the product's own index and chunks; `llama-index` is "
                  "`VectorStoreIndex.from_documents` with default chunking and the same embedding model. Latency is "
                  "the whole `ask` for the product (retrieval, sentence embedding, answer) and retrieval alone for "
                  "the baselines.", ""]
        if _chart(run, BASELINE_CHART) in summary.get("charts", ()):
            lines += [f"![Product and baselines]({_chart(run, BASELINE_CHART)})", ""]
    lines += ["### Floors (eval/floors.toml)", ""]
    if "floors" in summary:
        lines += _table(["split", "metric", "floor", "measured", ""], (
            [c["split"], c["metric"], _fmt(c["floor"], c["metric"]), _fmt(c["value"], c["metric"]),
             "ok" if c["ok"] else "**below**"] for c in summary["floors"]["checks"]))
        lines.append("")
    lines += [f"Floors {100 * FLOOR_MARGIN:.0f} points below these figures (how eval/floors.toml is set; raise "
              "a floor when a change lifts its figure for good):", "", "```toml",
              floors_toml(propose_floors(product["by_split"]), run.suite).rstrip(), "```", ""]
    for split in SPLITS:
        failures = [r for r in run.product if r.question.split == split and not r.correct]
        if split not in splits:
            continue
        heading = f"### Failures: {run.suite}, {split} split ({len(failures)})"
        lines += [heading, ""]
        if split == "test":
            lines += ["For reporting only: do not tune on these (eval/README.md, \"Dev and test splits\").", ""]
        for result in failures:
            lines += _failure_lines(result)
        if not failures:
            lines += ["None.", ""]
    return lines


def write_charts(run: EvalRun, summary: dict[str, Any], out: Path) -> list[str]:
    """PNG charts (matplotlib, Agg): product accuracy by category per split; product against baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    product = summary["systems"][PRODUCT]
    categories = list(product["by_category"])
    groups = {s: breakdown([r for r in run.product if r.question.split == s], lambda r: report_category(r.question))
              for s in SPLITS if any(r.question.split == s for r in run.product)}
    if len(groups) != 1:
        groups["all"] = product["by_category"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(groups)
    for i, (name, figures) in enumerate(groups.items()):
        values = [100 * (figures.get(c, {}).get("accuracy") or 0) for c in categories]
        ax.bar([x + i * width for x in range(len(categories))], values, width, label=name)
    ax.set_xticks([x + width * (len(groups) - 1) / 2 for x in range(len(categories))], categories,
                  rotation=20, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"{run.suite}: product accuracy by category (unanswerable: correctly declined)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / _chart(run, CATEGORY_CHART), dpi=120)
    plt.close(fig)
    written.append(_chart(run, CATEGORY_CHART))
    systems = summary["systems"]
    if len(systems) > 1:
        metrics = [(m, label) for m, label in BASELINE_METRICS if m in ("hit_at_1", "hit_at_5", "mrr",
                                                                      "answer_accuracy", "abstention_accuracy")]
        fig, ax = plt.subplots(figsize=(10, 4.5))
        width = 0.8 / len(systems)
        for i, (name, figures) in enumerate(systems.items()):
            overall = figures["by_split"]["all"]
            ax.bar([x + i * width for x in range(len(metrics))], [100 * (overall[m] or 0) for m, _ in metrics],
                   width, label=name)
        ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(metrics))],
                      [label.replace("MRR", "MRR ×100") for _, label in metrics])
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.set_title(f"{run.suite}: product and baselines ({run.info['split']} split)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / _chart(run, BASELINE_CHART), dpi=120)
        plt.close(fig)
        written.append(_chart(run, BASELINE_CHART))
    return written


def _chart(run: EvalRun, name: str) -> str:
    """A chart's file name, prefixed by the suite's so two suites' charts sit in one folder."""
    return f"{run.suite}-{name}"


def _columns(summaries: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(suite, split) for every split evaluated in every suite, in suite order; "all" only for a suite
    evaluated without splits."""
    columns = []
    for suite, summary in summaries.items():
        splits = [s for s in summary["systems"][PRODUCT]["by_split"] if s != "all"] or ["all"]
        columns += [(suite, split) for split in splits]
    return columns


def render_report(runs: Sequence[EvalRun], summary: dict[str, Any]) -> str:
    """report.md: every suite side by side (product figures, per category, retrieval against the
    baselines), then each suite's own section."""
    summaries = summary["suites"]
    columns = _columns(summaries)
    header = ["metric", *(f"{suite} {split}" for suite, split in columns)]
    product = {suite: s["systems"][PRODUCT] for suite, s in summaries.items()}
    lines = ["# Evaluation report", "",
             "Suites: " + ", ".join(f"`{r.suite}` ({r.info['questions']} questions of `{r.info['questions_file']}`)"
                                    for r in runs) + ".",
             "", "## Suites side by side (product)", ""]
    lines += _table(header, ([label, *(_fmt(product[suite]["by_split"][split].get(m), m) for suite, split in columns)]
                             for m, label in SIDE_METRICS))
    lines += ["", "Accuracy: correct over all questions asked (answerable: answered with every key fact; "
              "unanswerable: declined). Precision: correct over the questions answered (PaperQA2's precision; "
              "an answer to an unanswerable question is a wrong answer). Abstention: share of unanswerable "
              "questions declined. Citation precision: share of citations of answered answerable questions that "
              "point at an expected source.", "", "### Accuracy by category", ""]
    def by_category(suite: str, split: str) -> dict[str, dict]:
        figures = product[suite]
        return figures["by_category"] if split == "all" else figures["by_split_category"].get(split, {})
    names = list(CATEGORIES) + sorted({c for suite, split in columns for c in by_category(suite, split)} - set(CATEGORIES))
    lines += _table(["category", *(f"{suite} {split}" for suite, split in columns)], (
        [name, *((f"{_fmt(f['accuracy'], 'accuracy')} of {f['questions']}" if (f := by_category(suite, split).get(name))
                  else "–") for suite, split in columns)]
        for name in names if any(by_category(suite, split).get(name) for suite, split in columns)))
    systems = sorted({name for s in summaries.values() for name in s["systems"]}, key=lambda n: n != PRODUCT)
    if len(systems) > 1:
        lines += ["", "### Retrieval: product against each retriever alone", ""]
        rows = []
        for name in systems:
            for metric, label in (("hit_at_1", "hit@1"), ("mrr", "MRR")):
                rows.append([f"{name} {label}", *(_fmt(summaries[suite]["systems"][name]["by_split"][split].get(metric), metric)
                                                  if name in summaries[suite]["systems"] else "–"
                                                  for suite, split in columns)])
        lines += _table(header, rows)
    lines.append("")
    for one in runs:
        lines += render_suite(one, summaries[one.suite])
    return "\n".join(lines).rstrip() + "\n"


def write_report(runs: EvalRun | Sequence[EvalRun], out: Path,
                 floors: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Write results.json, report.md and the charts of every suite into `out`; return the summary,
    {"suites": {name: summary_json}, "charts": [...]}. `floors` replaces a single run's own."""
    out.mkdir(parents=True, exist_ok=True)
    runs = [runs] if isinstance(runs, EvalRun) else list(runs)
    if floors is not None and len(runs) == 1:
        runs = [replace(runs[0], floors=floors)]
    summary: dict[str, Any] = {"suites": {}, "charts": []}
    for one in runs:
        figures = summary_json(one)
        figures["charts"] = write_charts(one, figures, out)
        summary["suites"][one.suite] = figures
        summary["charts"] += figures["charts"]
    everything = {"suites": {one.suite: summary["suites"][one.suite] | {
        "results": {name: [r.to_json() for r in results] for name, results in one.results.items()}}
        for one in runs}}
    (out / "results.json").write_text(json.dumps(everything, indent=1, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (out / "report.md").write_text(render_report(runs, summary), encoding="utf-8")
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    """The short table printed to standard output: the product per suite and split, then each system's
    retrieval per suite and split."""
    summaries = summary["suites"]
    columns = _columns(summaries)
    metrics = ("accuracy", "precision", "abstention_accuracy", "answer_accuracy", "citation_precision",
               "first_citation_accuracy", "false_abstention_rate", "hit_at_1", "hit_at_5", "mrr",
               "latency_p50_ms", "latency_p95_ms")
    rows = [["product", *(f"{suite} {split}" for suite, split in columns)]]
    rows += [[m, *(_fmt(summaries[suite]["systems"][PRODUCT]["by_split"][split][m], m) for suite, split in columns)]
             for m in metrics]
    systems = sorted({name for s in summaries.values() for name in s["systems"]}, key=lambda n: n != PRODUCT)
    if len(systems) > 1:
        rows += [[""], ["hit@1 / MRR", *(f"{suite} {split}" for suite, split in columns)]]
        rows += [[name, *(
            (f"{_fmt(f['hit_at_1'], 'hit_at_1')} / {_fmt(f['mrr'], 'mrr')}"
             if (f := summaries[suite]["systems"].get(name, {}).get("by_split", {}).get(split)) else "–")
            for suite, split in columns)] for name in systems]
    widths = [max(len(r[i]) for r in rows if len(r) > i) for i in range(max(map(len, rows)))]
    text = "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
    below = [(suite, c) for suite, s in summaries.items() if "floors" in s
             for c in s["floors"]["checks"] if not c["ok"]]
    if any("floors" in s for s in summaries.values()):
        text += "\n\nfloors: " + ("all met" if not below else "below in " + ", ".join(
            f"{suite} {c['split']} {c['metric']} ({_fmt(c['value'], c['metric'])} < {_fmt(c['floor'], c['metric'])})"
            for suite, c in below))
    return text
