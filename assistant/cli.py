"""`council-assistant`: ingest papers, search them and ask cited questions from the command line.

Errors go to standard error as one line, with exit code 1 (2 for bad usage); JSON output is
printed only when complete, and is always UTF-8: bytes that are not UTF-8 (on standard input or in an
argument) are echoed as U+FFFD, never written back raw.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Iterator

from .errors import AssistantError, QueryError
from .loading import printable
from .settings import Settings
from .types import OCR_NOTE, DocumentMeta

_SURROGATE = re.compile("[\ud800-\udfff]")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="council-assistant",
                                     description="Cited answers and passage search over council papers.")
    parser.add_argument("--settings", type=Path, help="settings file (default: ./council-assistant.toml)")
    parser.add_argument("--index", type=Path, help="index folder (default: ./index)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add, update and remove papers in the index")
    ingest.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus folder)")
    ingest.add_argument("--rebuild", action="store_true", help="build a new index from scratch")
    ingest.add_argument("--retry-failed", action="store_true",
                        help="extract again files that failed before, even if unchanged since")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")

    search = commands.add_parser("search", help="ranked passages for a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=None, help="number of passages (default 5)")
    _add_filters(search)
    search.add_argument("--json", action="store_true", help="print JSON")

    ask = commands.add_parser("ask", help="a short answer with citations")
    ask.add_argument("question", help="the question, or - to read one question per line from standard input")
    _add_filters(ask)
    ask.add_argument("--json", action="store_true", help="print JSON (JSON Lines with -)")

    evaluate = commands.add_parser(
        "eval", help="score answers and retrieval on the evaluation suites",
        description="Runs every suite of eval/suites.toml (seed questions over corpus/, real papers over "
                    "../shared/realworld-dev) over a fresh index of its corpus, or one question file.")
    evaluate.add_argument("--suite", action="append", default=[], dest="suites",
                          help="run this suite of eval/suites.toml (repeatable; default: every suite whose "
                               "corpus folder exists)")
    evaluate.add_argument("--questions", type=Path,
                          help="run this question file alone (over --corpus, or the configured index)")
    evaluate.add_argument("--split", choices=("dev", "test", "all"), default="all", help="default: all")
    evaluate.add_argument("--out", type=Path, default=Path("eval/results"),
                          help="folder for report.md, results.json and charts (default: eval/results)")
    evaluate.add_argument("--corpus", type=Path,
                          help="evaluate a fresh index of this folder, built in a temporary folder")
    evaluate.add_argument("--index-cache", type=Path,
                          help="keep each suite's index in DIR/SUITE and bring it up to date instead of "
                               "building it afresh (faster re-runs)")
    evaluate.add_argument("--no-baselines", action="store_true", help="skip the BM25, dense and llama-index runs")
    evaluate.add_argument("--baselines", default=None,
                          help="comma-separated baselines to run (bm25, dense, llama-index; default all)")
    evaluate.add_argument("--json", action="store_true", help="print the summary as JSON")
    evaluate.add_argument("--check", action="store_true",
                          help="exit 1, naming each floor missed, when a figure is below its floor in "
                               "eval/floors.toml (or the floors.toml beside --questions)")

    chat = commands.add_parser("chat", help="serve the chat, search and library app in a browser")
    chat.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only)")
    chat.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    return parser


def _add_filters(command: argparse.ArgumentParser) -> None:
    command.add_argument("--since", help="only papers dated on or after (YYYY-MM-DD)")
    command.add_argument("--until", help="only papers dated on or before (YYYY-MM-DD)")
    command.add_argument("--type", action="append", default=[], dest="types",
                         help="only this document type (repeatable), e.g. press-release")
    command.add_argument("--council", action="append", default=[], dest="councils",
                         help="only papers of this council (repeatable), e.g. 'Sefton Council'")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "json", False) and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    handler = logging.StreamHandler()
    handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        settings = Settings.load(args.settings, index_dir=args.index,
                                 progress=sys.stderr.isatty() and not getattr(args, "json", False))
        from .app import Assistant

        assistant = Assistant(settings)
        if args.command == "ingest":
            return _ingest(assistant, args)
        if args.command == "ask":
            return _ask(assistant, args)
        if args.command == "chat":
            return _chat(assistant, args)
        if args.command == "eval":
            from .evaluation import command

            baselines: bool | list[str] = not args.no_baselines
            if args.baselines and baselines:
                baselines = [name.strip() for name in args.baselines.split(",") if name.strip()]
            return command(assistant, args.questions, args.split, args.out, args.json, baselines, args.corpus,
                           check=args.check, suites=args.suites, index_cache=args.index_cache)
        return _search(assistant, args)
    except AssistantError as exc:
        print(f"council-assistant: {printable(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("council-assistant: interrupted", file=sys.stderr)
        return 130


def _ingest(assistant, args) -> int:
    paths = args.paths or [assistant.settings.corpus_dir]
    report = assistant.ingest(paths, rebuild=args.rebuild, retry_failed=args.retry_failed)
    if args.json:
        print(json.dumps({
            "added": report.added, "updated": report.updated, "removed": report.removed,
            "unchanged": len(report.unchanged), "chunks_embedded": report.chunks_embedded,
            "failed": [{"file": f, "error": e} for f, e in report.failed],
            "warnings": [{"file": f, "warning": w} for f, w in report.warnings],
            "seconds": round(report.seconds, 3), "embed_seconds": round(report.embed_seconds, 3),
        }))
    else:
        for file, problem in report.warnings:
            print(f"warning: {printable(file)}: {printable(problem)}", file=sys.stderr)
        for file, problem in report.failed:
            print(f"failed: {printable(file)}: {printable(problem)}", file=sys.stderr)
        print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
              f"{len(report.unchanged)} unchanged, {len(report.failed)} failed; "
              f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f} s")
    return 1 if report.failed else 0


def _chat(assistant, args) -> int:
    from .ui import serve

    try:
        serve(assistant, host=args.host, port=args.port)
    except OSError as exc:
        print(f"council-assistant: cannot serve on {args.host}:{args.port} ({exc}); try --port", file=sys.stderr)
        return 1
    return 0


def _search(assistant, args) -> int:
    passages = assistant.search(args.query, k=args.k, since=args.since, until=args.until, doc_types=args.types,
                                 councils=args.councils)
    if args.json:
        print(json.dumps({"query": _utf8(args.query), "results": [p.to_json() for p in passages]}, ensure_ascii=False))
        return 0
    if not passages:
        print("No passages match.")
    for p in passages:
        where = _where(p.meta, p.chunk.page, p.chunk.heading)
        print(f"{p.rank}. {_described(p.meta)}{printable(where)})  score {p.score:.3f}")
        print(textwrap.indent(textwrap.fill(printable(" ".join(p.chunk.text.split())), 100), "   "))
        print()
    return 0


def _ask(assistant, args) -> int:
    filters = dict(since=args.since, until=args.until, doc_types=args.types, councils=args.councils)
    if args.question != "-":
        _print_answer(assistant.ask(args.question, **filters), args.json)
        return 0
    failures = 0
    for line in _stdin_lines():
        if not line.strip():
            continue
        try:
            answer = assistant.ask(line.rstrip("\n"), **filters)
        except AssistantError as exc:
            if not isinstance(exc, QueryError):
                raise
            failures += 1
            print(f"council-assistant: line {line.strip()[:60]!r}: {printable(exc)}", file=sys.stderr)
            if args.json:
                print(json.dumps({"question": _utf8(line.rstrip("\n")), "error": str(exc)}, ensure_ascii=False),
                      flush=True)
            continue
        _print_answer(answer, args.json)
    return 1 if failures else 0


def _stdin_lines() -> Iterator[str]:
    """Standard input's lines, decoded as UTF-8 whatever the locale; bytes that are not UTF-8 become
    lone surrogates (which `clean_query` turns into spaces) instead of stopping the run."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        yield from sys.stdin
        return
    for raw in stream:
        yield raw.decode("utf-8", "surrogateescape")


def _utf8(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte) as U+FFFD, so that it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        return
    text, short = " ".join(answer.text.split()), answer.short_answer
    lead = f"{' '.join(short.text.split())} [{short.n}] — " if short else ""
    if lead and text.startswith(lead):
        print(printable(lead.removesuffix(" — ")) + "\n")
        text = text[len(lead):]
    print(textwrap.fill(printable(text), 100))
    if answer.citations:
        print("\nSources:" if answer.answered else "\nPossibly related:")
    for c in answer.citations:
        where = _where(c.meta, c.page, c.meta.heading_at(c.start))
        print(f"[{c.n}] {_described(c.meta)}{printable(where)})")
        print(textwrap.indent(textwrap.fill(printable(f"\u201c{' '.join(c.quote.split())}\u201d"), 96), "    "))
    for note in answer.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    print(flush=True)


def _described(meta) -> str:
    """A paper's title, date and type for a line of text output (the closing parenthesis left open
    for a page), escaped: titles come from manifests and PDF or HTML metadata, and may carry control
    characters."""
    return printable(f"{meta.title} ({meta.date or 'undated'}, {meta.doc_type}")


class _PrintableFormatter(logging.Formatter):
    """Log lines with control characters escaped (a file name's escape sequences must not reach the
    terminal); line breaks are kept, for tracebacks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().formatMessage(record).split("\n"))
def _where(meta: DocumentMeta, page: int | None, item: str | None = None) -> str:
    """", Item 37/18 Appointment of Internal Auditor, page 3" (with ", text read by OCR from a scan"
    for a page read by OCR)."""
    where = f", {item}" if item else ""
    if page:
        where += f", page {page}, {OCR_NOTE}" if meta.read_by_ocr(page) else f", page {page}"
    return where


if __name__ == "__main__":
    sys.exit(main())
