"""Train the sentence cross-encoder (bench/cross_encoder.py) and measure it as an answerer signal (issue 14).

`python bench/train_cross_encoder.py` (`make train-reranker`): reads every paper of both eval suites'
indexes (bench/answer_suites.py builds them into /tmp/council-answer-bench on first use), makes
training groups from the papers' own sentences without an LLM (cloze questions: the asked-for span
replaced by its question word, other content words thinned and reordered; item headings as questions
for their item's sentences; negatives = neighbouring sentences of the same paper and sentences of
other papers), and fine-tunes the bundled all-MiniLM-L6-v2 with a one-output head for one epoch,
seeded, on one thread. No eval question is read for training (neither half): the measurement below
is leave-one-council-out, and a model trained on dev questions would have seen every held-out
council's questions. The papers are those the suites ask about (both halves' papers, as an index
would hold them); the questions are generated, never taken from the answer keys. Holds out GROUP_CHECK
of the generated groups and prints how often the positive ranks first among its group for the trained
cross-encoder and for MiniLM's cosine. Writes the model to bench/cross_encoder.TRAINED_FOLDER
(models-trained/cross-encoder, outside git).

`python bench/train_cross_encoder.py --measure`: bench/extra_signal.py's comparison with the trained
cross-encoder's columns (its probability, gap to the best, place; as `semantic`) added to the tuner's
features, on the dev halves, leave-one-council-out: log loss, out-of-fold "best sentence right", the
operating point per suite, the all-dev fit's `no_worse` threshold; the cross-encoder alone as a
sentence ranker; and the time it adds per question (question x its candidate sentences, one thread).
Writes bench/results/cross_encoder.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_suites import INDEX_ROOT, ROOT, SUITES, assistant_for  # noqa: E402

from assistant.chunkstore import ChunkStore  # noqa: E402
from cross_encoder import TRAINED_FOLDER, CrossEncoder, Pair, training_pairs, train  # noqa: E402
from assistant.index import current_build  # noqa: E402

SEED = 14
GROUP_CHECK = 200
MAX_GROUPS = 2000
MIN_WORDS, MAX_WORDS = 5, 60
RESULTS = ROOT / "bench" / "results"
SCORES = INDEX_ROOT / "cross-encoder-scores.pkl"
COLUMNS = ("", "_gap", "_order")
NAME = "xenc"


def papers() -> tuple[list[list[str]], list[tuple[str, list[str]]]]:
    """(every paper's distinct sentences in order, (item heading, the item's sentences)) of both suites'
    indexes; sentences outside MIN_WORDS..MAX_WORDS words (table debris, lists) are left out."""
    out, headings = [], []
    for suite in SUITES:
        assistant_for(suite)  # builds the index when absent
        store = ChunkStore.open(current_build(suite.index_dir), readonly=True)
        try:
            chunks = store.chunks([int(i) for i in store.chunk_ids()])
        finally:
            store.close()
        by_doc: dict[str, list] = {}
        for chunk, _meta, _vectors in chunks.values():
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        for doc_id in sorted(by_doc):
            seen: dict[str, None] = {}
            items: dict[str, dict[str, None]] = {}
            for chunk in sorted(by_doc[doc_id], key=lambda c: c.ord):
                for s, e in chunk.sentences:
                    text = " ".join(chunk.text[s:e].split())
                    if MIN_WORDS <= len(text.split()) <= MAX_WORDS:
                        seen[text] = None
                        if chunk.heading:
                            items.setdefault(chunk.heading, {})[text] = None
            out.append(list(seen))
            headings += [(h, list(s)) for h, s in items.items() if len(h.split()) >= 2]
    return out, headings


def ranked_first(scores: list[np.ndarray]) -> int:
    """Groups whose positive (index 0) scores strictly above every negative."""
    return int(sum(s[0] > s[1:].max() for s in scores if len(s) > 1))


def check(groups: list[Pair], model: CrossEncoder | None) -> dict:
    """Positive ranked first on held-out generated groups: the cross-encoder against MiniLM's cosine."""
    from assistant.embedding import Embedder

    encoder = Embedder("all-MiniLM-L6-v2", runtime="torch")
    cosine = []
    for g in groups:
        q = encoder.embed_query(g.question)
        cosine.append(encoder.embed_passages([g.positive, *g.negatives]) @ q)
    out = {"groups": len(groups), "minilm_cosine": ranked_first(cosine)}
    if model is not None:
        out["cross_encoder"] = ranked_first([model.score(g.question, [g.positive, *g.negatives]) for g in groups])
    return out


def run_training(folder: Path, limit: int | None) -> dict:
    """Generate the groups, train, check on the held-out groups; returns the figures."""
    rng = random.Random(SEED)
    sentences, headings = papers()
    groups = training_pairs(sentences, rng, headings=headings)
    held, groups = groups[:GROUP_CHECK], groups[GROUP_CHECK:]
    groups = groups[:limit or MAX_GROUPS]
    print(f"{len(sentences)} papers, {sum(map(len, sentences))} sentences, {len(headings)} item headings -> "
          f"{len(groups)} training groups ({sum(1 + len(g.negatives) for g in groups)} pairs), "
          f"{len(held)} held out", flush=True)
    for g in groups[:5]:
        print(f"  Q: {g.question}\n     + {g.positive[:110]}\n     - {g.negatives[0][:110]}")
    run = train(groups, folder, seed=SEED)
    print(f"trained in {run['seconds']:.0f} s: {run['steps']} steps, loss {run['first_loss']:.3f} -> "
          f"{run['last_loss']:.3f}", flush=True)
    figures = check(held, CrossEncoder(folder))
    print(f"held-out generated groups, positive ranked first: cross-encoder {figures['cross_encoder']}, "
          f"MiniLM cosine {figures['minilm_cosine']} of {figures['groups']}")
    report = {"seed": SEED, "papers": len(sentences), "sentences": sum(map(len, sentences)),
              "headings": len(headings), "training_groups": len(groups),
              "training_pairs": sum(1 + len(g.negatives) for g in groups), **run, "held_out": figures}
    (folder / "training.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def scores_of(items: list[dict], model: CrossEncoder, splits: set[str]) -> tuple[list, list[float]]:
    """Per item of `splits` (None for others): (scores of its sentences, scores against each part of its
    question); cached on disk by the model's weights' time and the items; and ms per question."""
    from assistant.composition import question_parts
    from assistant.types import Query

    stamp = (model.folder / "model.safetensors").stat().st_mtime
    keys = [f"{it['suite']}:{it['q'].id}:{len(it['sentences'])}" for it in items if it["q"].split in splits]
    if SCORES.is_file():
        stored = pickle.loads(SCORES.read_bytes())
        if stored["keys"] == keys and stored["stamp"] == stamp:
            return stored["scores"], stored["ms"]
    out, ms = [], []
    for n, it in enumerate(items):
        if it["q"].split not in splits:
            out.append(None)
            continue
        texts = [s.text for s in it["sentences"]]
        t0 = time.perf_counter()
        s = model.score(Query.of(it["q"].question).searched, texts)
        ms.append((time.perf_counter() - t0) * 1000)
        parts = [model.score(p, texts) for p in question_parts(it["q"].question)] if texts and it["part_rows"] else []
        out.append((s, parts))
        if n % 20 == 0:
            print(f"  {n} of {len(items)} questions scored", flush=True)
    SCORES.write_bytes(pickle.dumps({"keys": keys, "stamp": stamp, "scores": out, "ms": ms}))
    return out, ms


def measure(folder: Path) -> dict:
    import extra_signal
    import tune_answerer as tune

    import assistant.answering as answering

    items = tune.prepare()
    t0 = time.perf_counter()
    model = CrossEncoder(folder)
    load_ms = (time.perf_counter() - t0) * 1000
    splits = set(os.environ.get("EXTRA_SIGNAL_SPLITS", "dev").split(","))
    scores, ms = scores_of(items, model, splits)
    extended = []
    for it, scored in zip(items, scores):
        if scored is None:
            continue
        s, parts = scored
        if not len(it["sentences"]):
            extended.append({**it, "rows": np.zeros((0, it["rows"].shape[1] + len(COLUMNS)))})
            continue
        extended.append({**it, "rows": np.hstack([it["rows"], extra_signal.columns(s)]),
                         "part_rows": [np.hstack([rows, extra_signal.columns(p)])
                                       for rows, p in zip(it["part_rows"], parts)]})
    names = tuple(f"{NAME}{c}" for c in COLUMNS)
    answering.FEATURES = tune.FEATURES = tune.FEATURES + names
    dev = [it for it in extended if it["q"].split == "dev"]
    test = [it for it in extended if it["q"].split == "test"]
    positive = [it for it in dev if it["labels"].sum()]
    semantic = tune.FEATURES.index("semantic")
    alone = {"with_positive": len(positive),
             "cross_encoder_top1": int(sum(it["labels"][int(np.argmax(it["rows"][:, -3]))] for it in positive)),
             "minilm_cosine_top1": int(sum(it["labels"][int(np.argmax(it["rows"][:, semantic]))] for it in positive))}
    paraphrase = [it for it in positive if it["q"].category == "paraphrase"]
    alone["paraphrase_with_positive"] = len(paraphrase)
    alone["paraphrase_cross_encoder_top1"] = int(sum(it["labels"][int(np.argmax(it["rows"][:, -3]))]
                                                     for it in paraphrase))
    alone["paraphrase_minilm_cosine_top1"] = int(sum(it["labels"][int(np.argmax(it["rows"][:, semantic]))]
                                                     for it in paraphrase))
    base = tuple(tune.USED)
    variants = {"baseline": base, "cross-encoder (3 columns)": base + names,
                "cross-encoder (probability only)": base + (NAME,)}
    report = {"model": str(folder), "load_ms": load_ms,
              "ask_added_ms": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
              "sentences_per_question": {"p50": float(np.median([len(it["sentences"]) for it in dev])),
                                         "p95": float(np.percentile([len(it["sentences"]) for it in dev], 95))},
              "ranker_alone": alone, "variants": {}}
    print(f"alone, best sentence right (dev, of {alone['with_positive']}): cross-encoder "
          f"{alone['cross_encoder_top1']}, MiniLM cosine {alone['minilm_cosine_top1']}; paraphrase questions "
          f"(of {len(paraphrase)}): {alone['paraphrase_cross_encoder_top1']} and "
          f"{alone['paraphrase_minilm_cosine_top1']}")
    for label, used in variants.items():
        r = extra_signal.compare(dev, test, used)
        report["variants"][label] = r
        extra_signal.print_variant(label, r)
    print(f"\nloaded in {load_ms:.0f} ms; added per question (question x its "
          f"{report['sentences_per_question']['p50']:.0f} candidate sentences, p50): "
          f"{report['ask_added_ms']['p50']:.0f} ms, p95 {report['ask_added_ms']['p95']:.0f} ms")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=TRAINED_FOLDER, help="where the model is written / read")
    parser.add_argument("--limit", type=int, default=MAX_GROUPS, help="train on at most this many groups "
                        "(one core trains about 3 groups a second)")
    parser.add_argument("--measure", action="store_true", help="measure the trained model on the dev halves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in ("httpx", "sentence_transformers", "assistant.embedding"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if args.measure:
        report = measure(args.folder)
        training = args.folder / "training.json"
        if training.is_file():
            report["training"] = json.loads(training.read_text(encoding="utf-8"))
        out = RESULTS / "cross_encoder.json"
        out.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}")
    else:
        run_training(args.folder, args.limit)


if __name__ == "__main__":
    main()
