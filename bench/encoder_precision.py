"""The int8 encoder against fp32 on the eval suites: bench/results/encoder-precision.json from two eval runs.

    council-assistant eval --index-cache DIR_FP32 --out OUT_FP32
    COUNCIL_ASSISTANT_ENCODER_PRECISION=int8 council-assistant eval --index-cache DIR_INT8 --out OUT_INT8
    python bench/encoder_precision.py OUT_FP32/results.json OUT_INT8/results.json

Each suite's product figures per half (dev, test) and pooled (all), and the drops in points (fp32 minus
int8; negative: int8 better). Issue 19's rule: int8 becomes the default only if hit@5, MRR and answer
accuracy drop by at most 1 point on both suites; `drops` holds the worst pooled drop over the suites
(what bench/scale.py and bench/plots.py report), `rule_holds` whether every one is within the budget.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("accuracy", "answer_accuracy", "hit_at_1", "hit_at_5", "mrr")
RULE = ("hit_at_5", "mrr", "accuracy", "answer_accuracy")
BUDGET_POINTS = 1.0
HALVES = ("dev", "test", "all")


def product_figures(results: dict, suite: str) -> dict[str, dict[str, float]]:
    """{half: {metric: value}} of the product (the hybrid search and answerer) on one suite."""
    by_split = results["suites"][suite]["systems"]["product"]["by_split"]
    return {half: {"questions": by_split[half]["questions"]} | {m: round(by_split[half][m], 4) for m in METRICS}
            for half in HALVES}


def drop_points(fp32: dict[str, float], int8: dict[str, float]) -> dict[str, float]:
    return {f"{m}_drop_points": round(100 * (fp32[m] - int8[m]), 1) for m in RULE + ("hit_at_1",)}


def compare(fp32_results: dict, int8_results: dict) -> dict:
    """The figures and drops of every suite both runs evaluated, and the verdict on the pooled drops."""
    suites = {}
    for name in fp32_results["suites"]:
        if name not in int8_results["suites"]:
            continue
        precisions = {run["suites"][name]["info"].get("encoder_precision", "fp32")
                      for run in (fp32_results, int8_results)}
        if precisions != {"fp32", "int8"}:
            raise SystemExit(f"{name}: the runs were made at {sorted(precisions)}, not fp32 and int8")
        before, after = product_figures(fp32_results, name), product_figures(int8_results, name)
        suites[name] = {"fp32": before, "int8": after,
                        "drops": {half: drop_points(before[half], after[half]) for half in HALVES}}
    worst = {key: max(s["drops"]["all"][key] for s in suites.values()) for key in next(iter(suites.values()))["drops"]["all"]}
    return {"date": dt.date.today().isoformat(),
            "commands": ["council-assistant eval --index-cache DIR_FP32 --out OUT_FP32",
                         "COUNCIL_ASSISTANT_ENCODER_PRECISION=int8 council-assistant eval --index-cache DIR_INT8 "
                         "--out OUT_INT8",
                         "python bench/encoder_precision.py OUT_FP32/results.json OUT_INT8/results.json"],
            "note": "drops in points, fp32 minus int8 (negative: int8 better); `drops` is the worst pooled (all) "
                    "drop over the suites; the rule (issue 19): hit@5, MRR and answer accuracy drop by at most "
                    f"{BUDGET_POINTS:g} point on both suites, pooled",
            "drops": worst,
            "rule_holds": all(worst[f"{m}_drop_points"] <= BUDGET_POINTS for m in RULE),
            "suites": suites}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32", type=Path, help="results.json of the fp32 eval run")
    parser.add_argument("int8", type=Path, help="results.json of the int8 eval run")
    parser.add_argument("--out", type=Path, default=RESULTS / "encoder-precision.json")
    args = parser.parse_args()
    compared = compare(json.loads(args.fp32.read_text()), json.loads(args.int8.read_text()))
    args.out.write_text(json.dumps(compared, indent=2) + "\n")
    for name, suite in compared["suites"].items():
        for half in HALVES:
            a, b = suite["fp32"][half], suite["int8"][half]
            print(f"{name:12} {half:4} " + "  ".join(f"{m} {100 * a[m]:.1f}->{100 * b[m]:.1f}" for m in RULE))
    print(f"worst pooled drops: {compared['drops']}; rule holds: {compared['rule_holds']}")


if __name__ == "__main__":
    main()
