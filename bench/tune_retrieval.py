"""Fit the retrieval re-ranking (assistant/models/retrieval.json) on the dev halves of the eval suites.

Run: `make tune` (or `.venv/bin/python bench/tune_retrieval.py [--index-cache DIR] [--dry-run]`).
For every answerable question of every suite in eval/suites.toml whose corpus is present, the
retriever's top fused candidates are taken (the same filters as `Assistant.search`) and described by
`retrieval.candidate_features`, one row per candidate paper; a paper is a positive when it is one of
the question's sources. A pairwise logistic regression (scikit-learn, standardised features, fixed
C) is fitted on the dev questions only and written as plain numbers, so run time needs no sklearn.
Printed: hit@1 and MRR by paper over the top `answer_passages` passages, for BM25 alone, dense
alone, the RRF fusion and the learned ranking, on dev and test of each suite, and leave-one-council-
out cross-validation on dev (fitted on the other councils' questions, scored on the held-out
council's) per council and pooled per suite, for C and each C of C_GRID. Deterministic: the same
indexes give the same file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant, clean_query  # noqa: E402
from assistant.eval_questions import corpus_ids, load_suites, resolve_sources  # noqa: E402
from assistant.eval_run import suite_index  # noqa: E402
from assistant.evaluation import distinct_in_order  # noqa: E402
from assistant.retrieval import (  # noqa: E402
    FEATURES,
    MODEL_PATH,
    RERANK_DEPTH,
    HybridRetriever,
    RerankModel,
    candidate_features,
    rerank,
    named_councils,
)
from assistant.settings import Settings  # noqa: E402
from assistant.types import SearchFilters  # noqa: E402

# the regularisation strength of the fit; the leave-one-council-out figures of C_GRID are printed beside
# it. On the dev halves of 2026-12-01 (98 questions) every C of the grid is within one held-out question
# of the others (hit@1 87.8-88.8%, MRR 0.930-0.935), so C stays where it was first chosen
C = 0.1
C_GRID = (0.03, 0.1, 0.3, 1.0)


@dataclass
class Item:
    """One answerable question: its candidates' features and labels, and the baselines' rankings."""

    suite: str
    qid: str
    query: str
    split: str
    council: str
    sources: frozenset[str]
    docs: list[str]
    x: np.ndarray
    y: np.ndarray
    candidates: list
    rrf: list[str]
    bm25: list[str]
    dense: list[str]


def prepare(assistant: Assistant, suite, questions) -> list[Item]:
    settings = assistant.settings
    retriever = HybridRetriever(assistant._index, assistant.encoder, settings.candidates, settings.rrf_k,
                                settings.sparse_weight, model=None)
    depth = settings.answer_passages
    by_doc = {meta.doc_id: meta for meta, _ in assistant.documents()}
    items = []
    for q in questions:
        if not q.answerable:
            continue
        query = clean_query(q.question)
        candidates, _ = retriever.candidates_for(query, max(depth, RERANK_DEPTH), SearchFilters(),
                                                 named_councils(query, assistant.councils()))
        index = assistant._index
        bm25 = [index.store.chunks([i])[i][1].doc_id for i, _ in index.sparse.search(query, depth)]
        dense = [index.store.chunks([i])[i][1].doc_id
                 for i, _ in index.vectors.search(assistant.encoder.embed_query(query), depth)]
        council = next((by_doc[s].council for s in q.sources if s in by_doc), None) or "unindexed"
        docs, x = candidate_features(query, candidates) if candidates else ([], np.zeros((0, len(FEATURES))))
        items.append(Item(
            suite=suite.name, qid=q.id, query=query, split=q.split, council=f"{suite.name}:{council}",
            sources=frozenset(q.sources), docs=docs, x=x, candidates=candidates,
            y=np.array([d in q.sources for d in docs], dtype=int),
            rrf=list(distinct_in_order(c.meta.doc_id for c in candidates[:depth])),
            bm25=list(distinct_in_order(bm25)), dense=list(distinct_in_order(dense))))
    return items


def fit(items: list[Item], c: float) -> RerankModel:
    """Pairwise logistic regression (a linear RankNet): for every question, each candidate source
    paper against each other candidate paper, the difference of their standardised features,
    weighted so that every question counts once; then a one-feature logistic regression of the
    labels on the fitted score (Platt scaling) so the stored model gives probabilities."""
    from sklearn.linear_model import LogisticRegression

    usable = [i for i in items if len(i.x) and i.y.any() and not i.y.all()]
    x = np.vstack([i.x for i in items if len(i.x)])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    diffs, weights = [], []
    for item in usable:
        z = (item.x - mean) / scale
        pos, neg = z[item.y == 1], z[item.y == 0]
        pairs = (pos[:, None, :] - neg[None, :, :]).reshape(-1, z.shape[1])
        diffs.append(pairs)
        weights.append(np.full(len(pairs), 1.0 / len(pairs)))
    d, w = np.vstack(diffs), np.concatenate(weights)
    ranker = LogisticRegression(C=c, fit_intercept=False, max_iter=5000).fit(
        np.vstack([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))]), sample_weight=np.concatenate([w, w]))
    coef = ranker.coef_[0]
    score = np.concatenate([((i.x - mean) / scale) @ coef for i in items if len(i.x)])
    labels = np.concatenate([i.y for i in items if len(i.x)])
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(score[:, None], labels)
    a = float(platt.coef_[0][0])
    return RerankModel(FEATURES, mean, scale, (coef * a).astype(float), float(platt.intercept_[0]))


def learned_ranking(model: RerankModel, item: Item, depth: int) -> list[str]:
    """The papers of the passages the retriever returns with `model`, in order."""
    passages = rerank(item.query, item.candidates, model, depth)
    return list(distinct_in_order(c.meta.doc_id for c, _ in passages))


def figures(items: list[Item], ranking) -> tuple[float, float]:
    """(hit@1, MRR) by paper over `items`, `ranking(item)` giving the paper ranking."""
    hits, rr = [], []
    for item in items:
        docs = ranking(item)
        rank = next((n for n, d in enumerate(docs, start=1) if d in item.sources), None)
        hits.append(rank == 1)
        rr.append(1 / rank if rank else 0.0)
    return float(np.mean(hits)), float(np.mean(rr))


def table(items: list[Item], model: RerankModel, depth: int) -> dict:
    out = {}
    for suite in dict.fromkeys(i.suite for i in items):
        for split in ("dev", "test"):
            group = [i for i in items if i.suite == suite and i.split == split]
            if group:
                out[f"{suite} {split}"] = {
                    "questions": len(group),
                    "bm25": figures(group, lambda i: i.bm25), "dense": figures(group, lambda i: i.dense),
                    "rrf": figures(group, lambda i: i.rrf),
                    "learned": figures(group, lambda i: learned_ranking(model, i, depth))}
    return out


def leave_councils_out(dev: list[Item], depth: int, c: float) -> dict:
    """Per held-out council: fitted on every other council's dev questions, scored on this one's;
    then pooled over the held-out questions of each suite and of all suites."""
    out = {}
    systems = {"bm25": lambda i: i.bm25, "dense": lambda i: i.dense, "rrf": lambda i: i.rrf}
    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for council in sorted({i.council for i in dev}):
        train = [i for i in dev if i.council != council]
        held = [i for i in dev if i.council == council]
        if not train or not any(len(i.x) and i.y.any() for i in train):
            continue
        model = fit(train, c)
        ranked = systems | {"learned": lambda i, model=model: learned_ranking(model, i, depth)}
        out[council] = {"questions": len(held)} | {name: figures(held, rank) for name, rank in ranked.items()}
        for item in held:
            for name, rank in ranked.items():
                for group in (f"{item.suite} held-out", "all held-out"):
                    pooled[group][name].append(figures([item], rank))
    for group in sorted(pooled, key=lambda g: g == "all held-out"):
        out[group] = {"questions": len(pooled[group]["rrf"])} | {
            name: tuple(float(v) for v in np.mean(values, axis=0)) for name, values in pooled[group].items()}
    return out


def c_grid(dev: list[Item], depth: int) -> None:
    """Print the pooled leave-one-council-out figures on dev of each C of `C_GRID`."""
    for c in C_GRID:
        hit, mrr = leave_councils_out(dev, depth, c)["all held-out"]["learned"]
        print(f"C {c:<5} leave-one-council-out on dev, all held-out: hit@1 {hit:.1%}  MRR {mrr:.3f}")


def show(title: str, rows: dict) -> None:
    print(f"\n{title}")
    print(f"{'':34} {'n':>3}  " + "  ".join(f"{name:>13}" for name in ("bm25", "dense", "rrf", "learned")))
    for name, row in rows.items():
        cells = [f"{row[s][0]:6.1%} {row[s][1]:.3f}" if s in row else f"{'–':>13}"
                 for s in ("bm25", "dense", "rrf", "learned")]
        print(f"{name:34} {row['questions']:>3}  " + "  ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-cache", type=Path, help="keep each suite's index in DIR/SUITE (as eval does)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, but do not write the model")
    args = parser.parse_args()
    os.chdir(ROOT)
    settings = Settings.load(env={}, progress=False)
    items: list[Item] = []
    with tempfile.TemporaryDirectory(prefix="tune-retrieval-") as tmp:
        for suite in load_suites(ROOT / "eval" / "suites.toml"):
            if not suite.corpus.is_dir():
                print(f"suite {suite.name} skipped: {suite.corpus} not found", file=sys.stderr)
                continue
            questions = resolve_sources(suite.load(), corpus_ids(suite.corpus), str(suite.corpus))
            assistant = suite_index(suite, settings, Path(tmp), args.index_cache)
            items += prepare(assistant, suite, questions)
            assistant.close()
    dev = [i for i in items if i.split == "dev"]
    depth = settings.answer_passages
    c_grid(dev, depth)
    c, cv = C, leave_councils_out(dev, depth, C)
    model = fit(dev, c)
    measured = table(items, model, depth)
    show(f"hit@1 MRR by paper (top {depth} passages); fitted on dev of every suite, C {c}", measured)
    show("leave-one-council-out on dev (fitted on the other councils)", cv)
    print("\nweights (standardised features):")
    for name, weight in sorted(zip(FEATURES, model.coef), key=lambda p: -abs(p[1])):
        print(f"  {name:14} {weight:+.3f}")
    if not args.dry_run:
        data = model.to_json(fitted_on="dev halves of eval/suites.toml: " + ", ".join(
            f"{s} ({sum(i.suite == s for i in dev)} questions)" for s in dict.fromkeys(i.suite for i in dev)),
            C=c, positives=int(sum(i.y.sum() for i in dev)), candidates=int(sum(len(i.y) for i in dev)),
            hit_at_1_and_mrr={name: {system: [round(v, 3) for v in row[system]]
                                     for system in ("bm25", "dense", "rrf", "learned")}
                              for name, row in {**measured, **{f"leave-one-council-out, {group}": cv[group]
                                                               for group in cv if group.endswith("held-out")}}.items()})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
