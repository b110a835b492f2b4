"""Tune the extractive answerer's weights and abstention threshold on the eval suite's dev split.

Run: `make tune` (or `.venv/bin/python bench/tune_answerer.py [weight=value ...]`, which holds
those weights fixed). Retrieval and sentence embeddings
are computed once per question; each weight setting is then a cheap recombination. The objective is
the share of dev questions handled correctly: answerable ones answered with every key fact,
unanswerable ones abstained (thresholds within one question of the best: the highest wins). The test split is only reported, for the chosen setting and the
current default, so the figures on it stay honest.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answering import Weights, combine, select  # noqa: E402
from assistant.app import Assistant  # noqa: E402
from assistant.evaluation import load_questions, missing_facts  # noqa: E402
from assistant.settings import Settings  # noqa: E402

GRID = {
    "semantic": (0.3, 0.45),
    "lexical": (0.2, 0.35),
    "rank": (0.1, 0.2),
    "kind": (0.2, 0.3),
    "before": (0.3, 0.5),
    "evidence_lexical": (0.5, 1.0),
    "follow_ratio": (0.8, 0.9),
}
SENTENCES = (2, 3)
THRESHOLDS = np.round(np.arange(0.30, 0.62, 0.01), 2)


def prepare(assistant: Assistant, questions) -> list[dict]:
    """Per question: its sentences and their features, computed by the answerer itself."""
    prepared = []
    for q in questions:
        passages = assistant.search(q.question, k=assistant.settings.answer_passages)
        sentences, features = assistant.answerer.features(q.question, passages)
        prepared.append({"q": q, "sentences": sentences, "features": features})
    return prepared


def outcome(item: dict, weights: Weights, limit: int) -> tuple[float, bool]:
    """(evidence of the best sentence, whether the chosen sentences hold every key fact)."""
    sentences = item["sentences"]
    if not sentences:
        return 0.0, False
    score, evidence = combine(item["features"], weights)
    chosen = select(sentences, score, limit, weights.follow_ratio)
    text = " ".join(sentences[i].text for i in chosen)
    complete = bool(item["q"].key_facts) and not missing_facts(text, item["q"].key_facts)
    return float(evidence[int(np.argmax(score))]), complete


def correct_share(outcomes: list[tuple[float, bool]], items: list[dict], threshold: float) -> dict:
    answerable = [(e, ok) for (e, ok), it in zip(outcomes, items) if it["q"].answerable]
    unanswerable = [e for (e, _), it in zip(outcomes, items) if not it["q"].answerable]
    accurate = sum(e >= threshold and ok for e, ok in answerable)
    abstained = sum(e < threshold for e in unanswerable)
    return {"correct": (accurate + abstained) / len(items), "accuracy": accurate / max(len(answerable), 1),
            "abstention": abstained / max(len(unanswerable), 1),
            "false_abstention": sum(e < threshold for e, _ in answerable) / max(len(answerable), 1)}


def best_threshold(outcomes, items) -> tuple[float, dict]:
    """The highest threshold whose correct share is within one question of the best: when the dev
    split cannot tell two thresholds apart, saying "the papers do not say" is the cheaper mistake
    for a councillor than a confident answer that quotes the wrong passage."""
    scored = [(correct_share(outcomes, items, t)["correct"], float(t)) for t in THRESHOLDS]
    best = max(c for c, _ in scored)
    threshold = max(t for c, t in scored if c >= best - 1 / len(items) - 1e-9)
    return threshold, correct_share(outcomes, items, threshold)


def main(argv: list[str]) -> None:
    for fixed in argv:  # e.g. kind=0.3 holds that weight while the rest are tuned
        name, _, value = fixed.partition("=")
        if name not in GRID:
            raise SystemExit(f"{fixed}: not a tuned weight; one of {', '.join(GRID)}")
        GRID[name] = (float(value),)
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings.load(env={}, index_dir=Path(tmp), progress=False))
        assistant.ingest([ROOT / "corpus"])
        prepared = prepare(assistant, questions)
    dev = [p for p in prepared if p["q"].split == "dev"]
    test = [p for p in prepared if p["q"].split == "test"]
    print(f"{len(dev)} dev and {len(test)} test questions; {np.prod([len(v) for v in GRID.values()]) * len(SENTENCES)} "
          "settings tried on dev")

    default = Weights()
    results = []
    for values in itertools.product(*GRID.values()):
        weights = Weights(**dict(zip(GRID, values)))
        for limit in SENTENCES:
            outcomes = [outcome(p, weights, limit) for p in dev]
            threshold, metrics = best_threshold(outcomes, dev)
            results.append((metrics["correct"], metrics["accuracy"], weights, limit, threshold))
    results.sort(key=lambda r: (-r[0], -r[1]))
    print("\nBest settings on dev (correct share, answer accuracy):")
    for correct, accuracy, weights, limit, threshold in results[:5]:
        print(f"  {correct:.3f} {accuracy:.3f}  sentences={limit} min_evidence={threshold:.2f} "
              f"{dataclasses.asdict(weights)}")

    current = Settings.load(env={})
    _, _, chosen, limit, threshold = results[0]
    for label, weights, n, t in (("default", default, current.answer_sentences, current.min_evidence),
                                 ("chosen", chosen, limit, threshold)):
        for split, items in (("dev", dev), ("test", test)):
            m = correct_share([outcome(p, weights, n) for p in items], items, t)
            print(f"{label:8} {split:5} correct {m['correct']:.3f}  accuracy {m['accuracy']:.3f}  "
                  f"abstention {m['abstention']:.3f}  false abstention {m['false_abstention']:.3f}")

    print("\nThreshold sweep on dev for the chosen weights:")
    outcomes = [outcome(p, chosen, limit) for p in dev]
    for t in THRESHOLDS[::2]:
        m = correct_share(outcomes, dev, float(t))
        print(f"  min_evidence {t:.2f}: correct {m['correct']:.3f} accuracy {m['accuracy']:.3f} "
              f"abstention {m['abstention']:.3f} false abstention {m['false_abstention']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
