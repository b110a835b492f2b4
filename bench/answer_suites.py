"""The two question suites the answerer is tuned and measured on, with their indexes built once.

`seed`: eval/questions.jsonl over corpus/ (split fixed in the file). `realworld`: the real-papers set in
../shared/realworld-dev (no split field; the seeded split of eval with the split_seed of eval/suites.toml, SPLIT_SEED). Each index is
built once into INDEX_ROOT and reused; retrieval for every question is cached there too, keyed by the
index build, so tuning recombines features without searching again.

`python bench/answer_suites.py` prints the product's figures on both suites and both halves
(accuracy, precision = correct / answered, abstention, citation precision, ask p50): the before/after
table of the README.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.eval_questions import EvalQuestion, load_questions  # noqa: E402
from assistant.eval_run import evaluate  # noqa: E402
from assistant.evaluation import percentile  # noqa: E402
from assistant.index import current_build  # noqa: E402
from assistant.settings import Settings  # noqa: E402

SPLIT_SEED = tomllib.loads((ROOT / "eval" / "suites.toml").read_text(encoding="utf-8"))["suites"]["real-papers"]["split_seed"]
SHARED = ROOT.parent / "shared" if (ROOT.parent / "shared").is_dir() else Path("/work/shared")
INDEX_ROOT = Path(os.environ.get("ANSWER_BENCH_DIR", "/tmp/council-answer-bench"))


@dataclass(frozen=True)
class Suite:
    name: str
    questions: Path
    corpus: Path
    seed: str | None = None

    @property
    def index_dir(self) -> Path:
        return INDEX_ROOT / f"{self.name}-index"


SUITES = (
    Suite("seed", ROOT / "eval" / "questions.jsonl", ROOT / "corpus"),
    Suite("realworld", SHARED / "realworld-dev" / "questions.jsonl", SHARED / "realworld-dev" / "corpus",
          SPLIT_SEED),
)


def source_ids(corpus: Path) -> dict[str, str]:
    """File name -> manifest id, so that `sources` naming files compare with citations' doc_ids."""
    manifest = corpus / "manifest.toml"
    if not manifest.is_file():
        return {}
    entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("documents", {})
    return {name: entry["id"] for name, entry in entries.items() if "id" in entry}


def questions_of(suite: Suite, split: str = "all") -> list[EvalQuestion]:
    """The suite's questions of `split`, with sources as doc ids."""
    ids = source_ids(suite.corpus)
    return [dataclasses.replace(q, sources=tuple(ids.get(s, s) for s in q.sources))
            for q in load_questions(suite.questions, split, seed=suite.seed)]


def assistant_for(suite: Suite) -> Assistant:
    """An assistant over the suite's index, built on first use."""
    settings = Settings.load(env={}, index_dir=suite.index_dir, progress=False,
                             answer_passages=int(os.environ["ANSWER_PASSAGES"]) if "ANSWER_PASSAGES" in os.environ else None)
    assistant = Assistant(settings)
    if current_build(suite.index_dir) is None:
        suite.index_dir.mkdir(parents=True, exist_ok=True)
        assistant.ingest([suite.corpus])
    return assistant


def retrieved(suite: Suite, assistant: Assistant, questions: list[EvalQuestion]) -> dict[str, list]:
    """Question id -> the passages the answerer reads, cached per index build, retrieval code and
    retrieval settings (a change to any of them searches again)."""
    code = b"".join((ROOT / "assistant" / name).read_bytes() for name in ("retrieval.py", "sparse.py", "app.py"))
    s = assistant.settings
    key = hashlib.sha256(code + repr((s.answer_passages, s.candidates, s.rrf_k, s.sparse_weight,
                                      [q.question for q in questions])).encode()).hexdigest()[:12]
    cache = suite.index_dir / f"passages-{Path(current_build(suite.index_dir)).name}-{key}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    out = {q.id: assistant.search(q.question, k=assistant.settings.answer_passages) for q in questions}
    cache.write_bytes(pickle.dumps(out))
    return out


def figures(results) -> dict:
    """Accuracy (correct / asked), precision (correct / answered), abstention, citation precision, p50."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    answered = [r for r in results if r.answered]
    cited = [r.citation_precision for r in answerable if r.citation_precision is not None]
    return {
        "questions": len(results),
        "accuracy": sum(r.correct for r in results) / len(results),
        "answer_accuracy": sum(r.correct for r in answerable) / max(len(answerable), 1),
        "precision": sum(r.correct for r in answered) / len(answered) if answered else None,
        "answered_share": len(answered) / len(results),
        "abstention": sum(not r.answered for r in unanswerable) / max(len(unanswerable), 1),
        "citation_precision": sum(cited) / len(cited) if cited else None,
        "p50_ms": percentile([r.latency_ms for r in results], 50),
        "p95_ms": percentile([r.latency_ms for r in results], 95),
    }


def main() -> None:
    table = {}
    for suite in SUITES:
        assistant = assistant_for(suite)
        results = evaluate(assistant, questions_of(suite))
        for split in ("dev", "test"):
            table[f"{suite.name} {split}"] = figures([r for r in results if r.question.split == split])
        if "--failures" in sys.argv:
            for r in results:
                if r.question.split == "dev" and not r.correct:
                    print(f"{r.question.id} [{r.question.category}] {r.question.question}\n    -> "
                          f"{'(abstained)' if not r.answered else r.answer[:300]}")
    print(f"{'suite':16} {'n':>3} {'accuracy':>8} {'answerable':>10} {'precision':>9} {'answered':>8} "
          f"{'abstention':>10} {'cit.prec':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for name, f in table.items():
        cells = [f["accuracy"], f["answer_accuracy"], f["precision"], f["answered_share"], f["abstention"],
                 f["citation_precision"]]
        print(f"{name:16} {f['questions']:3d} " + " ".join(
            f"{'-' if v is None else f'{v:.3f}':>{w}}" for v, w in zip(cells, (8, 10, 9, 8, 10, 8)))
            + f" {f['p50_ms']:7.0f} {f['p95_ms']:7.0f}")
    if "--json" in sys.argv:
        print(json.dumps(table))


if __name__ == "__main__":
    main()
