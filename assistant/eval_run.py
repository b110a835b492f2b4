"""Running the evaluation suites: asks the assistant every question of each suite in eval/suites.toml
and scores it, beside the baselines (`baselines.py`) on the same questions.

The runner calls `Assistant.search` and `Assistant.ask` once per question; a suite's index is built
in a temporary folder (or kept in a cache) from its corpus. The LLM judge (faithfulness, relevancy)
runs only when an LLM is configured. `command` is `council-assistant eval`: it runs the suites, has
`report.py` write the report and checks the floors. The figures themselves are `evaluation.py`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .app import Assistant
from .baselines import ANSWER_PASSAGES, NAMES, Baseline, build_baselines
from .errors import IndexNotFoundError
from .index import built_precision, current_build, read_manifest
from .eval_questions import (
    DEFAULT_QUESTIONS,
    DEFAULT_SUITES,
    EvalError,
    EvalQuestion,
    Suite,
    corpus_ids,
    load_suites,
    resolve_sources,
)
from .evaluation import (
    PRODUCT,
    EvalRun,
    QuestionResult,
    check_floors,
    distinct_in_order,
    load_floors,
    mean,
    missed_floors,
)
from .report import summary_text, write_report

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("eval/results")


def _progress(items: Sequence, label: str, show: bool) -> Iterable:
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit="question", leave=False)


def evaluate(assistant: Assistant, questions: Sequence[EvalQuestion], depth: int | None = None,
             progress: bool = False) -> list[QuestionResult]:
    """The product's result on each question: `Assistant.ask` for the answer, `Assistant.search` for
    the document ranking (top `depth` passages, by default the `answer_passages` the answerer reads).
    One unscored question is asked first, so loading the model does not count as latency.
    """
    depth = depth or assistant.settings.answer_passages
    if questions:
        assistant.ask(questions[0].question)
    results = []
    for q in _progress(questions, PRODUCT, progress):
        ranking = distinct_in_order(p.meta.doc_id for p in assistant.search(q.question, k=depth))
        answer = assistant.ask(q.question)
        results.append(QuestionResult(
            question=q, system=PRODUCT, answer=answer.text, answered=answer.answered,
            cited=tuple(c.meta.doc_id for c in answer.citations), ranking=ranking,
            latency_ms=answer.latency_ms, quotes=tuple(c.quote for c in answer.citations),
            passages=tuple(dict.fromkeys(c.passage for c in answer.citations))))
    return results


NO_JUDGE = "skipped: no LLM is configured (llm_base_url); faithfulness and relevancy need one to judge"


def judge(settings, results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Faithfulness (is the answer supported by its cited passages?) and relevancy (do answer and
    passages address the question?) of the answered questions, each the share that llama-index's
    evaluators pass with the configured LLM as judge; a note instead when no LLM is configured."""
    if not settings.llm_base_url:
        return {"note": NO_JUDGE}
    from llama_index.core.evaluation import FaithfulnessEvaluator, RelevancyEvaluator

    from .llm import make_llm

    llm = make_llm(settings)
    evaluators = {"faithfulness": FaithfulnessEvaluator(llm=llm), "relevancy": RelevancyEvaluator(llm=llm)}
    passed: dict[str, list[bool]] = {name: [] for name in evaluators}
    errors: list[str] = []
    for result in results:
        if not result.answered or not result.passages:
            continue
        for name, evaluator in evaluators.items():
            try:
                verdict = evaluator.evaluate(query=result.question.question, response=result.answer,
                                             contexts=list(result.passages))
            except Exception as exc:  # the judge is a remote service: one failure must not end the run
                errors.append(f"{result.question.id} {name}: {type(exc).__name__}: {exc}"[:200])
                continue
            passed[name].append(bool(verdict.passing))
    out: dict[str, Any] = {name: mean(values) for name, values in passed.items()}
    out.update(judged={name: len(values) for name, values in passed.items()}, errors=len(errors),
               judge=settings.llm_model or settings.llm_base_url)
    if errors:
        out["first_error"] = errors[0]
    return out


def evaluate_baseline(baseline: Baseline, questions: Sequence[EvalQuestion], depth: int,
                      answer_passages: int, progress: bool = False) -> list[QuestionResult]:
    """A retriever's result on each question. It has no answerer: its "answer" is the text of its
    top `answer_passages` passages, it always answers, and those passages are its citations.
    """
    results = []
    for q in _progress(questions, baseline.name, progress):
        started = time.perf_counter()
        hits = baseline.retrieve(q.question, max(depth, answer_passages))
        latency = (time.perf_counter() - started) * 1000
        top = hits[:answer_passages]
        results.append(QuestionResult(
            question=q, system=baseline.name, answer="\n\n".join(h.text for h in top), answered=True,
            cited=tuple(h.doc_id for h in top), ranking=distinct_in_order(h.doc_id for h in hits[:depth]),
            latency_ms=latency))
    return results


def index_ids(assistant: Assistant) -> dict[str, str]:
    """{file name: doc_id} for the papers in the assistant's index, from its manifest's file records."""
    return {Path(key).name: doc_id for key, doc_id in assistant.indexed_files().items()}


def check_index_covers(assistant: Assistant, questions: Sequence[EvalQuestion], questions_path: Path,
                       corpus_dir: Path | None = None) -> list[str]:
    """The papers the questions cite that the index lacks (sorted doc_ids).

    Without `corpus_dir` such an index is refused: every answer about the missing papers would count
    as wrong. With it, the papers are in the corpus but failed to ingest (a scan without a text layer,
    say): their questions stay in, as expected misses, and the ids are returned for the report.
    """
    indexed = {meta.doc_id for meta, _ in assistant.documents()}
    missing = sorted({s for q in questions for s in q.sources} - indexed)
    if not missing:
        return []
    papers = f"{len(missing)} paper(s) named in the sources of {questions_path} ({', '.join(missing[:5])})"
    if corpus_dir is not None:
        log.warning("%s: %s could not be indexed; their questions count as misses", corpus_dir, papers)
        return missing
    raise EvalError(f"{assistant.settings.index_dir}: the index lacks {papers}; pass --corpus corpus/ to evaluate "
                    "a fresh index of the corpus, or ingest it")


def run(assistant: Assistant, questions: Sequence[EvalQuestion], baselines: bool | Sequence[str] = True,
        depth: int | None = None, progress: bool = False, corpus_dir: Path | None = None,
        questions_path: Path = DEFAULT_QUESTIONS, split: str = "all", suite: str = "questions",
        floors: dict[str, dict[str, float]] | None = None) -> EvalRun:
    """The product and the baselines (all three when `baselines` is true, those named when it is a list,
    none when false) on `questions`."""
    started = time.perf_counter()
    unindexed = check_index_covers(assistant, questions, questions_path, corpus_dir)
    depth = depth or assistant.settings.answer_passages
    results = {PRODUCT: evaluate(assistant, questions, depth, progress)}
    if baselines:
        names = None if baselines is True else set(baselines)
        for baseline in build_baselines(assistant, names):
            log.info("baseline %s", baseline.name)
            results[baseline.name] = evaluate_baseline(baseline, questions, depth, ANSWER_PASSAGES, progress)
    served = assistant.info()
    info = {
        "suite": suite,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "questions_file": str(questions_path),
        "split": split,
        "questions": len(questions),
        "corpus": str(corpus_dir) if corpus_dir else None,
        "index": served["index"],
        "documents": served["documents"],
        "chunks": served["chunks"],
        "unindexed": unindexed,
        "expected_misses": sorted(q.id for q in questions if set(q.sources) & set(unindexed)),
        "embedding_model": served["embedding_model"],
        "encoder_precision": served["encoder"].get("precision", "fp32"),
        "answerer": served["answerer"],
        "min_evidence": served["min_evidence"],
        "depth": depth,
        "llm_judge": judge(assistant.settings, results[PRODUCT]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return EvalRun(results=results, info=info, suite=suite, floors=floors)


# -- the command -------------------------------------------------------------------------------

def choose_suites(suites_path: Path, names: Sequence[str], questions: Path | None,
                  corpus: Path | None) -> list[tuple[Suite, bool]]:
    """The suites to run, each with whether it was asked for by name (a named suite whose corpus is
    absent is an error; an unnamed one is skipped).

    With `questions`, one suite: the suites-file entry with that question file when there is one
    (for its split seed and floors), with `corpus` (or none: the configured index) as its corpus.
    Otherwise the suites named, or every suite of the file.
    """
    known = load_suites(suites_path) if suites_path.is_file() else []
    if questions is not None:
        same = next((s for s in known if s.questions.resolve() == questions.resolve()), None)
        base = same or Suite(name=questions.stem, questions=questions, corpus=None)
        return [(dataclasses.replace(base, questions=questions, corpus=corpus), True)]
    if not known:
        raise EvalError(f"{suites_path}: suites file not found; pass --questions FILE")
    by_name = {s.name: s for s in known}
    for name in names:
        if name not in by_name:
            raise EvalError(f"--suite {name}: not in {suites_path} (suites: {', '.join(by_name)})")
    chosen = [by_name[n] for n in dict.fromkeys(names)] if names else known
    return [(dataclasses.replace(s, corpus=corpus) if corpus is not None else s, bool(names)) for s in chosen]


def suite_index(suite: Suite, settings, tmp: Path, cache: Path | None) -> Assistant:
    """An assistant over an index of the suite's corpus: fresh in `tmp`, or kept in `cache/NAME` and
    brought up to date by an incremental ingest (only changed papers are read again)."""
    folder = (cache / suite.name) if cache is not None else tmp / suite.name
    # its own embedder: the ONNX export ingest makes belongs to this index, not the configured one
    assistant = Assistant(dataclasses.replace(settings, index_dir=folder))
    kept = current_build(folder)
    # a kept index of another encoder precision would be read at its own: the eval measures the settings'
    rebuild = kept is not None and built_precision(read_manifest(kept)) != settings.encoder_precision
    log.info("indexing %s in %s%s", suite.corpus, folder, " (rebuilt: another encoder precision)" if rebuild else "")
    report = assistant.ingest([suite.corpus], rebuild=rebuild)
    for file, problem in report.failed:
        log.warning("%s: %s", file, problem)
    return assistant


def command(assistant: Assistant, questions_path: Path | None = None, split: str = "all",
            out: Path = DEFAULT_OUT, as_json: bool = False, baselines: bool | Sequence[str] = True,
            corpus: Path | None = None, check: bool = False, suites: Sequence[str] = (),
            suites_path: Path = DEFAULT_SUITES, index_cache: Path | None = None) -> int:
    """`council-assistant eval`: run each suite, write one report of all into `out`, print the summary;
    the exit code.

    Without `questions_path`, the suites of eval/suites.toml (those named in `suites`, or all; one whose
    corpus folder is absent is skipped with a message), each over an index of its own corpus. With it,
    that question file alone, over a fresh index of `corpus`, or the configured index without one. A
    suite's index is built in a temporary folder, so the figures never depend on a stale index, or kept
    in `index_cache` and brought up to date. Papers of a corpus that fail to ingest (scans without a
    text layer) stay in: their questions count as misses. Every source is checked against the corpus
    (file name or doc_id) before any ingest. With `check`, the exit code is 1 when a figure is below
    its floor, one line per floor missed on standard error (the report is written either way).
    """
    if not isinstance(baselines, bool):
        unknown = sorted(set(baselines) - set(NAMES))
        if unknown:
            raise EvalError(f"--baselines: unknown {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if questions_path is None and corpus is not None and not suites:
        questions_path = DEFAULT_QUESTIONS
    chosen = choose_suites(suites_path, suites, questions_path, corpus)
    plans = []
    for suite, named in chosen:
        if suite.corpus is not None and not suite.corpus.is_dir():
            if named:
                raise EvalError(f"--corpus {suite.corpus}: not a folder" if corpus is not None else
                                f"suite {suite.name}: corpus folder {suite.corpus} not found")
            print(f"council-assistant: suite {suite.name} skipped: corpus folder {suite.corpus} not found",
                  file=sys.stderr)
            continue
        questions = suite.load(split)
        floors_path = suites_path.parent / "floors.toml" if questions_path is None else suite.questions.parent / "floors.toml"
        if check and not floors_path.is_file():
            raise EvalError(f"{floors_path}: floors file not found; --check compares the figures with the floors "
                            "file beside the question file")
        floors = load_floors(floors_path, suite.name) if floors_path.is_file() else None
        if suite.corpus is not None:
            questions = resolve_sources(questions, corpus_ids(suite.corpus), f"the corpus {suite.corpus}")
        else:
            try:
                indexed = assistant.documents()
            except IndexNotFoundError:
                raise EvalError(f"{assistant.settings.index_dir}: no index to evaluate; build one with "
                                "`council-assistant ingest corpus/`, or pass --corpus corpus/ to evaluate a fresh "
                                "index of that folder") from None
            questions = resolve_sources(questions, index_ids(assistant) | {
                meta.doc_id: meta.doc_id for meta, _ in indexed}, f"the index {assistant.settings.index_dir}")
        plans.append((suite, questions, floors, floors_path))
    if not plans:
        raise EvalError("no suite to evaluate: every suite's corpus folder is absent")
    progress = assistant.settings.progress and not as_json
    runs = []
    with tempfile.TemporaryDirectory(prefix="council-eval-") as tmp:
        for suite, questions, floors, _ in plans:
            target = suite_index(suite, assistant.settings, Path(tmp), index_cache) if suite.corpus else assistant
            runs.append(run(target, questions, baselines=baselines, progress=progress, corpus_dir=suite.corpus,
                            questions_path=suite.questions, split=split, suite=suite.name, floors=floors))
            if target is not assistant:
                target.close()
        summary = write_report(runs, out)
    if as_json:
        print(json.dumps(summary | {"out": str(out)}, ensure_ascii=False))
    else:
        print(summary_text(summary))
        print(f"\nreport: {out / 'report.md'}")
    if not check:
        return 0
    missed = []
    for one, (*_, floors_path) in zip(runs, plans):
        checks = check_floors(summary["suites"][one.suite]["systems"][PRODUCT]["by_split"], one.floors or {})
        if not checks:
            log.warning("%s: no floor applies to suite %s, %s split; nothing checked", floors_path, one.suite, split)
        missed += [f"{floors_path}: {one.suite} {line}" for line in missed_floors(checks)]
    for line in missed:
        print(f"council-assistant: {line}", file=sys.stderr)
    return 1 if missed else 0
