"""Fit the extractive answerer's scoring model on the dev halves of both eval suites (`make tune`).

What it does, reproducibly (no randomness; scikit-learn is needed here only, not at run time):
1. Builds each suite's index once (bench/answer_suites.py) and retrieves the passages of every question.
2. Labels each candidate sentence of every DEV question: positive when its paper is a source of the
   question and it holds a key fact; every sentence of an unanswerable question is negative.
3. Leave-one-council-out cross-validation on dev (the seed suite's papers count as one council): a
   logistic regression fitted on the other councils scores the held-out council's sentences. These
   out-of-fold scores choose the regularisation, the answer threshold and the follow ratio (precision
   first, see `choose`), and give the precision / answered-share curve.
4. Fits the model on all dev sentences; raises the threshold to the lowest at which no dev figure
   (HEADLINE) of either suite is below the shipped model's (`no_worse`); when no threshold does, tries
   the other C values of the grid (`shippable`), and when none has such a threshold, keeps the
   shipped model. The shipped model's figures are its own: it is scored on feature rows computed with
   the settings it records (`word_rarity`), the re-fit on those of the running settings, so that a
   changed setting cannot lower the bar by feeding the shipped model rows it was not fitted on. Writes assistant/models/answerer.json (unless kept), the curve to
   bench/results/answerer_curve.png and the figures to bench/results/answerer_tuning.json.
The test halves are only reported, with the final model, never used to choose anything.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_suites import ROOT, SPLIT_SEED, SUITES, assistant_for, questions_of, retrieved  # noqa: E402

from assistant.answering import (FEATURES, MODEL_FILE, ExtractiveAnswerer, ScoringModel,  # noqa: E402
                                 decide, load_model)
from assistant.vector_cache import VectorCache  # noqa: E402
from assistant.errors import SettingsError  # noqa: E402
from assistant.evaluation import QuestionResult, fact_present  # noqa: E402

TARGET_PRECISION = 0.90
MIN_ANSWERED = 0.3
WRONG_COST = 1.0
SMOOTHING = 0.05
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
FOLLOW_GRID = (0.3, 0.4, 0.5, 0.6, 0.8)
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
RESULTS = ROOT / "bench" / "results"
SEED_GROUP = "seed suite"
# the dev figures a re-fitted model may not lower, per suite, against the model it replaces (`no_worse`)
HEADLINE = ("accuracy", "precision", "abstention")
# the features the model reads: all that FEATURES computes except those whose fitted sign contradicted
# what they measure (collinear with others: full focus coverage scored *against* a sentence), and the
# fused retrieval score, which moves with every other paper in the index (rank fusion), so that adding
# an unrelated paper cannot change an answer; and the phrase measures, which raised the out-of-fold top-1
# (59 of 87 against 56) but lowered the dev utility at the chosen threshold (0.220 against 0.236)
# what question words are weighed by (Settings.word_rarity); the suites' assistants read no environment
RARITY = os.environ.get("COUNCIL_ASSISTANT_WORD_RARITY", "candidates")
USED = tuple(f for f in FEATURES if f not in {"focus", "best_focus", "best_lexical", "title", "rare", "fused",
                                               "phrase", "phrase_gap"})


def shipped_rarity() -> tuple[str, ...]:
    """The word rarity the shipped model was fitted with (none when nothing is shipped)."""
    try:
        return (load_model(MODEL_FILE).word_rarity,)
    except SettingsError:
        return ()


def prepare(rarity: str = RARITY, also: tuple[str, ...] | None = None) -> list[dict]:
    """Per question of both suites: its sentences, feature rows (with word rarity `rarity`), labels and
    council group; and under "rows_by", the rows with each other word rarity of `also` (default: the
    shipped model's), what a model fitted with it reads (`score`). The sentences are the same under every
    setting; only their rows differ, so they are computed twice only when the settings differ."""
    items = []
    others = tuple(dict.fromkeys(r for r in (shipped_rarity() if also is None else also) if r != rarity))
    blank = ScoringModel(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), (0.0,) * len(FEATURES), 0.0)
    for suite in SUITES:
        assistant = assistant_for(suite)
        questions = questions_of(suite)
        passages = retrieved(suite, assistant, questions)
        cache = VectorCache(assistant.encoder.embed_passages)
        answerers = {}
        for setting in (rarity, *others):
            answerers[setting] = ExtractiveAnswerer(assistant.encoder.embed_passages, model=blank,
                                                    embed_query=assistant.encoder.embed_query,
                                                    frequencies=assistant.word_frequencies if setting == "index" else None)
            answerers[setting].sentence_vectors = cache
        answerer = answerers[rarity]
        councils = {meta.doc_id: meta.council for meta, _ in assistant.documents()}
        for q in questions:
            found = passages[q.id]
            sentences, rows = answerer.features(q.question, found)
            part_rows = answerer.part_features(q.question, sentences)
            rows_by = {}
            for setting in others:
                _, other_rows = answerers[setting].features(q.question, found)
                rows_by[setting] = other_rows, answerers[setting].part_features(q.question, sentences)
            labels = np.array([q.answerable and s.passage.meta.doc_id in q.sources
                               and any(fact_present(s.text, fact) for fact in q.key_facts) for s in sentences],
                              dtype=int)
            if suite.name == "seed":
                group = SEED_GROUP
                fold = f"seed:{q.sources[0] if q.sources else (found[0].meta.doc_id if found else '')}"
            elif q.sources:
                group = councils.get(q.sources[0]) or "unknown"
            else:
                group = found[0].meta.council if found else "unknown"
            if suite.name != "seed":
                fold = group or "unknown"
            items.append({"suite": suite.name, "q": q, "passages": found, "sentences": sentences, "rows": rows,
                          "labels": labels, "group": group or "unknown", "fold": fold,
                          "part_rows": part_rows, "rarity": rarity, "rows_by": rows_by})
    return items


def fit(items: list[dict], c: float) -> ScoringModel:
    """A logistic regression on the sentences of `items` (their "rows", all computed with one word
    rarity, which the model records), as a `ScoringModel` (numbers only)."""
    from sklearn.linear_model import LogisticRegression

    rarities = {it["rarity"] for it in items}
    if len(rarities) != 1:
        raise ValueError(f"fit: the items' rows were computed with several word rarities ({sorted(rarities)})")

    columns = [FEATURES.index(name) for name in USED]
    rows = np.vstack([it["rows"] for it in items if len(it["sentences"])])[:, columns]
    labels = np.concatenate([it["labels"] for it in items if len(it["sentences"])])
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(C=c, max_iter=5000).fit((rows - mean) / scale, labels)
    return ScoringModel(USED, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, lr.coef_[0])),
                        float(lr.intercept_[0]), word_rarity=rarities.pop())


def outcome(item: dict, scored: tuple, threshold: float, follow: float) -> QuestionResult:
    """The answer `decide` gives the question at `threshold`, judged as the eval suite judges it;
    `scored` is (the sentences' probabilities, those against each part of the question)."""
    probability, parts = scored
    answer = decide(item["q"].question, item["passages"], item["sentences"], probability, threshold, follow, 3, parts)
    return QuestionResult(question=item["q"], system="product", answer=answer.text, answered=answer.answered,
                          cited=tuple(c.meta.doc_id for c in answer.citations))


def score(model: ScoringModel, item: dict) -> tuple:
    """(the model's probabilities of the item's sentences, and against each part of its question), from
    the item's rows computed with the word rarity the model was fitted with."""
    if model.word_rarity == item["rarity"]:
        rows, part_rows = item["rows"], item["part_rows"]
    elif model.word_rarity in item.get("rows_by", {}):
        rows, part_rows = item["rows_by"][model.word_rarity]
    else:
        raise ValueError(f"{item['q'].id}: no feature rows with word_rarity {model.word_rarity!r}, which the model "
                         f"was fitted with (only {item['rarity']!r}); prepare them with `prepare(also=...)`")
    return model.probabilities(rows), tuple(model.probabilities(r) for r in part_rows)


def figures(results: list[QuestionResult]) -> dict:
    answered = [r for r in results if r.answered]
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    cited = [r.citation_precision for r in answerable if r.citation_precision is not None]
    wrong = sum(r.answered and not r.correct for r in results)
    return {"questions": len(results), "accuracy": np.mean([r.correct for r in results]),
            "utility": (sum(r.correct and r.answered for r in results) - WRONG_COST * wrong) / len(results),
            "answer_accuracy": np.mean([r.correct for r in answerable]) if answerable else None,
            "precision": np.mean([r.correct for r in answered]) if answered else None,
            "answered_share": len(answered) / len(results),
            "abstention": np.mean([not r.answered for r in unanswerable]) if unanswerable else None,
            "citation_precision": float(np.mean(cited)) if cited else None}


def out_of_fold(dev: list[dict], c: float, key: str = "fold") -> list[tuple]:
    """Each dev question's sentence probabilities from the model fitted without its fold: its council
    (`key` "group"), or for threshold choice ("fold") its council, the seed suite's questions by paper."""
    groups = sorted({it[key] for it in dev})
    out: list[tuple | None] = [None] * len(dev)
    for group in groups:
        model = fit([it for it in dev if it[key] != group], c)
        for i, it in enumerate(dev):
            if it[key] == group:
                out[i] = score(model, it)
    return out


def log_loss(dev: list[dict], probs: list[np.ndarray]) -> float:
    y = np.concatenate([it["labels"] for it in dev])
    p = np.clip(np.concatenate([scored[0] for scored in probs]), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def curve(dev: list[dict], probs: list[np.ndarray], follow: float) -> list[dict]:
    """Precision, answered share and accuracy of the dev questions at every threshold."""
    points = []
    for t in THRESHOLDS:
        f = figures([outcome(it, p, float(t), follow) for it, p in zip(dev, probs)])
        points.append({"threshold": float(t), **f})
    return points


def choose(points: list[dict]) -> dict:
    """Precision first: the lowest threshold whose precision reaches TARGET_PRECISION while answering
    at least MIN_ANSWERED of the questions; when none does, the threshold of the highest utility: +1 for
    a correct answer, -WRONG_COST for a wrong one, 0 for an abstention (right or wrong), so an answer is
    worth giving when it is more likely right than wrong;
    averaged over thresholds within SMOOTHING (a few dev questions must not move the point by chance)."""
    good = [p for p in points if p["precision"] is not None and p["precision"] >= TARGET_PRECISION - 1e-9
            and p["answered_share"] >= MIN_ANSWERED]
    if good:
        return min(good, key=lambda p: p["threshold"])
    smoothed = [np.mean([q["utility"] for q in points if abs(q["threshold"] - p["threshold"]) <= SMOOTHING + 1e-9])
                for p in points]
    return points[int(np.argmax(smoothed))]


def no_worse(model: ScoringModel, dev: list[dict], threshold: float, follow: float) -> float | None:
    """The lowest threshold from `threshold` up at which the fitted model's dev figures of each suite
    (HEADLINE) are all at least those of the model it replaces (the shipped MODEL_FILE, at its own
    threshold and follow ratio, on rows computed with its own word rarity: `score`): a re-fit may trade nothing on dev for its gains, and between two such
    points the lower answers more. `threshold` itself when nothing is shipped; None when no point
    qualifies (the re-fit is then not shipped)."""
    try:
        previous = load_model(MODEL_FILE)
    except SettingsError:
        return threshold
    suites = sorted({it["suite"] for it in dev})

    def by_suite(m: ScoringModel, t: float, f: float) -> dict[str, dict]:
        return {s: figures([outcome(it, score(m, it), t, f) for it in dev if it["suite"] == s]) for s in suites}

    reference = by_suite(previous, previous.threshold, previous.follow)
    for t in THRESHOLDS[THRESHOLDS >= threshold - 1e-9]:
        got = by_suite(model, float(t), follow)
        if all((got[s][k] or 0.0) >= (reference[s][k] or 0.0) - 1e-9 for s in suites for k in HEADLINE):
            return float(t)
    return None


def shippable(dev: list[dict], c: float, threshold: float, follow: float,
              losses: dict[float, float]) -> tuple[float, ScoringModel, float | None]:
    """(C, the model fitted on all dev with it, its threshold from `no_worse`) to ship: the C of the
    lowest out-of-fold log loss when its fit has a `no_worse` threshold; otherwise, of the C_GRID fits
    that have one, the one of the highest dev utility (both suites' questions together) at it, ties
    to the lower log loss. A log loss a few thousandths apart tells the C values apart less than the
    figures a councillor sees. The threshold is None (keep the shipped model) when no C has one."""
    first = fit(dev, c)
    raised = no_worse(first, dev, threshold, follow)
    if raised is not None:
        return c, first, raised
    options = []
    for other in sorted(losses, key=losses.get):
        model = fit(dev, other)
        at = no_worse(model, dev, threshold, follow)
        if at is not None:
            got = figures([outcome(it, score(model, it), at, follow) for it in dev])
            options.append((got["utility"], -losses[other], other, model, at))
            print(f"  C {other}: no dev figure falls from threshold {at:.2f} (dev utility {got['utility']:.3f})")
    if not options:
        return c, first, None
    _, _, best, model, at = max(options, key=lambda o: (o[0], o[1]))
    return best, model, at


def plot(points_by: dict[str, list[dict]], chosen: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in points_by.items():
        xs = [p["answered_share"] for p in points if p["precision"] is not None]
        ys = [p["precision"] for p in points if p["precision"] is not None]
        ax.plot(xs, ys, marker=".", label=label)
        at = min(points, key=lambda p: abs(p["threshold"] - chosen))
        ax.scatter([at["answered_share"]], [at["precision"]], s=60, zorder=3)
    ax.axhline(TARGET_PRECISION, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("answered share (answered ÷ asked)")
    ax.set_ylabel("precision (correct ÷ answered)")
    ax.set_title(f"Answerer trade-off, dev halves, out-of-fold by council (dots: threshold {chosen:.2f})", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    fitted_with = shipped_rarity()
    if fitted_with and fitted_with[0] != RARITY:
        print(f"word rarity {RARITY!r}; the shipped model was fitted with {fitted_with[0]!r}, so it is scored on "
              "rows computed with that")
    items = prepare(RARITY, fitted_with)
    dev = [it for it in items if it["q"].split == "dev"]
    test = [it for it in items if it["q"].split == "test"]
    print(f"{len(dev)} dev questions ({sum(len(it['sentences']) for it in dev)} sentences, "
          f"{sum(int(it['labels'].sum()) for it in dev)} positive), {len(test)} test questions; "
          f"councils: {', '.join(sorted({it['group'] for it in dev}))}")

    losses = {c: log_loss(dev, out_of_fold(dev, c)) for c in C_GRID}
    c = min(losses, key=losses.get)
    print("leave-one-council-out log loss by C: " + ", ".join(f"{k}: {v:.4f}" for k, v in losses.items()))
    probs = out_of_fold(dev, c)
    with_positive = [(it, p) for it, p in zip(dev, probs) if it["labels"].sum()]
    print(f"out-of-fold: best sentence states a key fact for {sum(it['labels'][int(np.argmax(p[0]))] for it, p in with_positive)}"
          f" of the {len(with_positive)} dev questions with such a sentence")
    best = None
    for follow in FOLLOW_GRID:
        points = curve(dev, probs, follow)
        point = choose(points)
        key = point["utility"], point["accuracy"], -follow
        if best is None or key > best[0]:
            best = (key, follow, points, point)
    _, follow, points, point = best
    threshold = point["threshold"]
    print(f"chosen C {c}, follow {follow}, threshold {threshold:.2f}: out-of-fold dev precision "
          f"{point['precision']:.3f}, answered {point['answered_share']:.3f}, accuracy {point['accuracy']:.3f}")

    by_suite = {name: curve([it for it in dev if it["suite"] == name],
                            [p for it, p in zip(dev, probs) if it["suite"] == name], follow)
                for name in ("seed", "realworld")}
    folds = {}
    by_council = out_of_fold(dev, c, "group")
    for group in sorted({it["group"] for it in dev}):
        held = [(it, p) for it, p in zip(dev, by_council) if it["group"] == group]
        folds[group] = figures([outcome(it, p, threshold, follow) for it, p in held])
    print("\nheld-out council (model fitted on the others), at the chosen threshold:")
    for group, f in folds.items():
        print(f"  {group:40} n={f['questions']:3d} accuracy {f['accuracy']:.3f} precision "
              f"{'-' if f['precision'] is None else format(f['precision'], '.3f')} answered {f['answered_share']:.3f}")

    utility_threshold = threshold
    c, model, raised = shippable(dev, c, threshold, follow, losses)
    keep_shipped = raised is None
    if keep_shipped:
        print(f"no C and no threshold from {threshold:.2f} up keeps every dev figure ({', '.join(HEADLINE)}) of both "
              "suites at least at the shipped model's: the shipped model is kept (figures below are the re-fit's)")
    elif raised != utility_threshold:
        threshold = raised
        print(f"C {c}, threshold raised from {utility_threshold:.2f} (best utility) to {threshold:.2f}: the lowest at "
              f"which no dev figure ({', '.join(HEADLINE)}) of either suite is below the shipped model's")
    report = {"C": c, "utility_threshold": utility_threshold, "follow": follow, "threshold": threshold, "target_precision": TARGET_PRECISION,
              "log_loss_by_C": losses, "out_of_fold_dev": point, "folds": folds,
              "curve": {"all dev": points, **{f"{k} dev": v for k, v in by_suite.items()}}}
    final = {}
    for suite in ("seed", "realworld"):
        for split, group in (("dev", dev), ("test", test)):
            chosen = [it for it in group if it["suite"] == suite]
            final[f"{suite} {split}"] = figures([outcome(it, score(model, it), threshold, follow)
                                                for it in chosen])
    report["final_model"] = final
    print("\nfinal model (fitted on all dev), same threshold:")
    for name, f in final.items():
        print(f"  {name:15} accuracy {f['accuracy']:.3f} precision "
              f"{'-' if f['precision'] is None else format(f['precision'], '.3f')} answered {f['answered_share']:.3f} "
              f"abstention {f['abstention']:.3f}")
    info = {"fitted_on": "dev halves of eval/questions.jsonl and ../shared/realworld-dev/questions.jsonl "
                         f"(split seed {SPLIT_SEED})", "C": c, "target_precision": TARGET_PRECISION,
            "dev_questions": len(dev), "dev_sentences": int(sum(len(it["sentences"]) for it in dev))}
    shipped = ScoringModel(model.features, model.mean, model.scale, model.coef, model.intercept, threshold, follow,
                           model.word_rarity, info)
    MODEL_FILE.parent.mkdir(exist_ok=True)
    if not keep_shipped:
        MODEL_FILE.write_text(json.dumps(shipped.to_json(), indent=1) + "\n", encoding="utf-8")
    report["kept_shipped_model"] = keep_shipped
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "answerer_tuning.json").write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    plot({"all dev": points, **{f"{k} dev": v for k, v in by_suite.items()}}, threshold,
         RESULTS / "answerer_curve.png")
    print(f"\nwrote {'' if keep_shipped else str(MODEL_FILE.relative_to(ROOT)) + ', '}bench/results/answerer_tuning.json, bench/results/answerer_curve.png")
    print("coefficients: " + ", ".join(f"{n} {w:+.2f}" for n, w in sorted(zip(model.features, model.coef), key=lambda x: -abs(x[1]))))


if __name__ == "__main__":
    main()
