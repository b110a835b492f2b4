"""Calibrate the watch threshold (assistant/watch_threshold.toml) on the eval suite's dev split.

Run: `.venv/bin/python bench/calibrate_watches.py [--write]`. A watch asks "does this new paper
speak of my topic?". Each dev question stands in for a watch's query and each corpus paper for a
newly added paper: the paper is a true match when it is one of the question's sources. The paper's
score is the best dense cosine among its passages (as `watches.passage_scores` computes it). The
threshold chosen maximises paper-level F0.5 (precision weighs more than recall: alerts that cry
wolf get ignored); precision and recall on the dev split and, for honesty, on the test
split are printed and stored with it. Questions are not topics, so this is a proxy: figures from a
council's real watches should replace it when there are some.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.watches import CALIBRATION_FILE, new_chunk_ids, passage_scores  # noqa: E402

BETA = 0.5


def paper_scores(assistant: Assistant, questions) -> list[tuple[float, bool]]:
    """(best cosine of the paper's passages for the question, whether the paper is a source)."""
    index = assistant._index
    papers = {meta.doc_id for meta, _ in assistant.documents()}
    chunks = {doc_id: new_chunk_ids(index, {doc_id}) for doc_id in papers}
    pairs = []
    for q in questions:
        sources = set(q.get("sources") or ()) if q.get("answerable", True) else set()
        for doc_id in papers:
            scored = passage_scores(index, assistant.encoder, q["question"], chunks[doc_id])
            pairs.append((max((s[2] for s in scored), default=0.0), doc_id in sources))
    return pairs


def measure(pairs: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    chosen = [relevant for score, relevant in pairs if score >= threshold]
    positives = sum(relevant for _, relevant in pairs)
    precision = sum(chosen) / len(chosen) if chosen else 1.0
    recall = sum(chosen) / positives if positives else 0.0
    return precision, recall


def f_beta(precision: float, recall: float, beta: float = BETA) -> float:
    """F-beta; beta < 1 weighs precision above recall."""
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE.name}")
    args = parser.parse_args()
    lines = (ROOT / "eval/questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings.load(env={}, index_dir=Path(tmp) / "index", progress=False))
        assistant.ingest([ROOT / "corpus"])
        dev = paper_scores(assistant, [q for q in questions if q.get("split") == "dev"])
        test = paper_scores(assistant, [q for q in questions if q.get("split") == "test"])
    candidates = sorted({round(score, 3) for score, _ in dev})
    chosen = max(candidates, key=lambda t: (f_beta(*measure(dev, t)), t))
    dev_p, dev_r = measure(dev, chosen)
    test_p, test_r = measure(test, chosen)
    print(f"threshold {chosen:.3f}: dev precision {dev_p:.3f} recall {dev_r:.3f} ({len(dev)} question-paper pairs); "
          f"test precision {test_p:.3f} recall {test_r:.3f} ({len(test)} pairs)")
    if args.write:
        CALIBRATION_FILE.write_text(
            "# Written by bench/calibrate_watches.py: the dense cosine a passage of a new paper must reach to\n"
            "# match a watch, chosen on the eval dev split (question = watch, source papers = true matches)\n"
            f"# as the one maximising paper-level F{BETA:g} (precision first).\n"
            f"min_cosine = {chosen:.3f}\n"
            f"dev_precision = {dev_p:.3f}\ndev_recall = {dev_r:.3f}\ndev_pairs = {len(dev)}\n"
            f"test_precision = {test_p:.3f}\ntest_recall = {test_r:.3f}\ntest_pairs = {len(test)}\n",
            encoding="utf-8")


if __name__ == "__main__":
    main()
