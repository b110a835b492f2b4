"""`council-assistant`: ingest papers, search them and ask cited questions from the command line.

Errors go to standard error as one line, with exit code 1 (2 for bad usage); JSON output is
printed only when complete, and is always UTF-8: bytes that are not UTF-8 (on standard input or in an
argument) are echoed as U+FFFD, never written back raw.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import Iterator

from .errors import AssistantError, QueryError, SettingsError
from .corpus import printable
from .settings import Settings, prepare_libraries
from .cli_output import (PrintableFormatter, date_argument, described, feedback_table, ingest_json, located,
                         print_answer, print_ingest, utf8)

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
    ingest.add_argument("--json", action="store_true",
                        help="print the report as JSON, and progress as JSON lines on standard error")

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

    importer = commands.add_parser("import", help="bring a council's papers in from its web site")
    sources = importer.add_subparsers(dest="source", required=True)
    moderngov = sources.add_parser("moderngov", help="a ModernGov site (its mgWebService.asmx web service)")
    moderngov.add_argument("site", help="the site, e.g. https://democracy.example.gov.uk (or .../moderngov)")
    moderngov.add_argument("--committee", action="append", default=[], dest="committees",
                           help="only this committee: its id, title or part of titles (repeatable)")
    moderngov.add_argument("--since", help="meetings on or after (YYYY-MM-DD; default: a year back on the "
                                           "first run, then the last run less the rolling window)")
    moderngov.add_argument("--until", help="meetings on or before (YYYY-MM-DD; default: a month ahead)")
    moderngov.add_argument("--council", help="the council's name for the papers (default: default_council)")
    moderngov.add_argument("--into", type=Path, help="folder for the papers (default: corpus/<council or site>)")
    moderngov.add_argument("--contact", help="e-mail or web address sent in the User-Agent (default: "
                                             "the import_contact setting)")
    moderngov.add_argument("--ingest", action="store_true", help="run the incremental ingest after")
    moderngov.add_argument("--json", action="store_true", help="print the report as JSON")

    watch = commands.add_parser("watch", help="standing searches reported when new papers match them")
    watches = watch.add_subparsers(dest="action", required=True)
    watch_add = watches.add_parser("add", help="watch for new papers on a topic")
    watch_add.add_argument("query")
    watch_add.add_argument("--type", action="append", default=[], dest="types", help="only this document type (repeatable)")
    watch_add.add_argument("--committee", help="only papers of committees whose name holds this")
    watch_add.add_argument("--name", help="the watch's name (default: the query)")
    watch_add.add_argument("--user", help="the login whose watch it is (shown in the browser to that user only; "
                                          "default: everyone's)")
    watches.add_parser("list", help="the watches")
    watch_remove = watches.add_parser("remove", help="stop a watch")
    watch_remove.add_argument("name")
    watch_report = watches.add_parser("report", help="new papers matching the watches, with citations")
    when = watch_report.add_mutually_exclusive_group()
    when.add_argument("--since", help="matches found on or after (YYYY-MM-DD)")
    when.add_argument("--new", action="store_true", help="matches not reported before (then marked reported)")
    watch_report.add_argument("--email", action="store_true", help="also e-mail the report (smtp_* settings)")
    watch_report.add_argument("--json", action="store_true", help="print JSON")

    feedback = commands.add_parser("feedback", help="the 👍/👎 ratings of answers given in the chat")
    feedback_actions = feedback.add_subparsers(dest="action", required=True)
    feedback_list = feedback_actions.add_parser("list", help="the ratings, oldest first")
    feedback_list.add_argument("--json", action="store_true", help="print one JSON object per line")
    feedback_export = feedback_actions.add_parser(
        "export", help="the rated questions as draft eval questions (eval/questions.jsonl format) to review")
    feedback_export.add_argument("--out", type=Path, help="write to this file (default: standard output); "
                                                          "an existing file is not overwritten")
    feedback_export.add_argument("--split", choices=("dev", "test"), default="dev", help="the drafts' split")

    chat = commands.add_parser("chat", help="serve the chat, search and library app in a browser")
    chat.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default 127.0.0.1: this machine only)")
    chat.add_argument("--port", type=int, default=7860, help="port (default 7860)")

    users = commands.add_parser("users", help="manage the users file (UI login and API access)")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user, or set their password and access again")
    add.add_argument("name")
    add.add_argument("--restricted", action="store_true", help="may see restricted papers")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    actions.add_parser("list", help="list the users and their access")
    return parser


def _add_filters(command: argparse.ArgumentParser) -> None:
    command.add_argument("--since", help="only papers dated on or after (YYYY-MM-DD)")
    command.add_argument("--until", help="only papers dated on or before (YYYY-MM-DD)")
    command.add_argument("--type", action="append", default=[], dest="types",
                         help="only this document type (repeatable), e.g. press-release")
    command.add_argument("--council", action="append", default=[], dest="councils",
                         help="only papers of this council (repeatable), e.g. 'Northshire Council'")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "json", False) and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    prepare_libraries("models")
    try:
        settings = Settings.load(args.settings, index_dir=args.index,
                                 progress=sys.stderr.isatty() and not getattr(args, "json", False))
        if args.command == "import":
            return _import(settings, args)
        if args.command == "watch":
            return _watch(settings, args)
        if args.command == "users":
            return _users(settings, args)
        if args.command == "feedback":
            return _feedback(settings, args)
        from .app import Assistant

        assistant = Assistant(settings)
        if args.command == "ingest":
            return _ingest(assistant, args)
        if args.command == "ask":
            return _ask(assistant, args)
        if args.command == "chat":
            return _chat(assistant, args)
        if args.command == "eval":
            from .eval_run import command

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
    from .progress import Progress

    progress = Progress("json") if args.json else None  # JSON lines on standard error, see progress.py
    report = assistant.ingest(paths, rebuild=args.rebuild, retry_failed=args.retry_failed, progress=progress)
    if args.json:
        print(json.dumps(ingest_json(report)))
    else:
        print_ingest(report)
    return 1 if report.failed else 0


def _import(settings: Settings, args) -> int:
    """`import moderngov`: fetch the site's papers into a corpus folder, then (--ingest) index them."""
    from .importing import import_moderngov
    from .corpus import slug
    from .moderngov import ModernGovClient

    if args.contact:
        settings = dataclasses.replace(settings, import_contact=args.contact)
    contact = settings.import_contact
    if not contact:
        raise SettingsError("import needs a contact for the site's operators (sent in the User-Agent): pass "
                            "--contact you@example.org, or set import_contact in council-assistant.toml or "
                            "COUNCIL_ASSISTANT_IMPORT_CONTACT")
    since, until = (date_argument(args.since, "--since"), date_argument(args.until, "--until"))
    client = ModernGovClient(args.site, contact, settings.import_delay, settings.import_timeout,
                             settings.import_retries)
    council = args.council or settings.default_council
    folder = args.into or settings.corpus_dir / slug(council or client.host)
    report = import_moderngov(client, folder, council, args.committees, since, until,
                              window_days=settings.import_window_days)
    ingested = None
    if args.ingest:
        from .app import Assistant

        ingested = Assistant(settings).ingest([folder])
    if args.json:
        out = report.to_json()
        if ingested is not None:
            out["ingest"] = ingest_json(ingested)
        print(json.dumps(out, ensure_ascii=False))
    else:
        for what, why in report.skipped:
            print(f"skipped: {printable(what)}: {printable(why)}", file=sys.stderr)
        for what, error in report.failed:
            print(f"failed: {printable(what)}: {printable(error)}", file=sys.stderr)
        for paper in report.fetched:
            print(f"{paper['date']}  {printable(paper['committee'])}  {paper['doc_type']}  "
                  f"{printable(paper['title'])}  -> {printable(paper['file'])}")
        print(f"{len(report.fetched)} papers fetched into {printable(report.folder)}, {report.held} already held, "
              f"{len(report.skipped)} skipped, {len(report.failed)} failed; {report.meetings_checked} meetings "
              f"checked ({report.since} to {report.until}), {report.requests} requests")
        if ingested is not None:
            print_ingest(ingested)
    return 1 if report.failed or (ingested is not None and ingested.failed) else 0


def _watch(settings: Settings, args) -> int:
    """`watch add|list|remove|report`: watches are kept beside the index (see watches.py)."""
    from . import watches

    path = watches.watches_path(settings)
    if args.action == "add":
        watch = watches.add(path, args.query, args.types, args.committee, args.name, user=args.user)
        print(f"watching {printable(watch.name)!s}: new papers matching {printable(watch.query)!r} are recorded "
              "after each ingest")
    elif args.action == "list":
        book = watches.load(path)
        if not book.watches:
            print("No watches; add one with: council-assistant watch add \"QUERY\"")
        for w in book.watches:
            filters = "".join([f" type={','.join(w.doc_types)}" if w.doc_types else "",
                               f" committee={w.committee}" if w.committee else "",
                               f" user={w.user}" if w.user else ""])
            count = sum(m.watch == w.name for m in book.matches)
            print(f"{printable(w.name)}: {printable(w.query)!r}{printable(filters)} (since {w.created}; {count} matches)")
    elif args.action == "remove":
        watches.remove(path, args.name)
        print(f"removed watch {printable(args.name)}")
    else:
        since = date_argument(args.since, "--since")
        matches = watches.report(path, since.isoformat() if since else None, new=args.new)
        if args.json:
            print(json.dumps({"matches": [dataclasses.asdict(m) for m in matches]}, ensure_ascii=False))
        else:
            for line in watches.report_text(matches).splitlines():
                print(printable(line))
        if args.email and matches:
            watches.send_report(settings, watches.report_text(matches))
    return 0


def _feedback(settings: Settings, args) -> int:
    """`feedback list|export`: the ratings kept in the feedback store (see feedback.py)."""
    from . import feedback

    entries = feedback.open_store(settings).entries()
    if args.action == "list":
        if args.json:
            for entry in entries:
                print(json.dumps(dataclasses.asdict(entry), ensure_ascii=False))
        elif not entries:
            print("No feedback yet: ratings given with 👍/👎 in the chat appear here.")
        else:
            for line in feedback_table(entries):
                print(printable(line))
        return 0
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in feedback.eval_drafts(entries, args.split))
    if args.out is None:
        sys.stdout.write(lines)
        return 0
    try:
        with args.out.open("x", encoding="utf-8") as f:
            f.write(lines)
    except FileExistsError:
        raise QueryError(f"{args.out}: exists already; give another --out (drafts are reviewed, then copied "
                         "into eval/questions.jsonl by hand)") from None
    print(f"{len(lines.splitlines())} draft question(s) written to {printable(args.out)}; review them before "
          "adding them to eval/questions.jsonl", file=sys.stderr)
    return 0


def _users(settings: Settings, args) -> int:
    """`users add|remove|list` on the file the `users_file` setting names (the password of `add` is read
    from standard input when it is not a terminal, else prompted for twice)."""
    from .users import add_user, read_users, remove_user

    if not settings.users_file:
        raise AssistantError("no users file is set; set users_file in the settings or "
                             "COUNCIL_ASSISTANT_USERS_FILE to where it should be kept")
    path = Path(settings.users_file)
    if args.action == "list":
        for name, entry in sorted(read_users(path).items()):
            print(f"{name}\t{'restricted' if entry['restricted'] else 'public'}")
        return 0
    if args.action == "remove":
        remove_user(path, args.name)
        print(f"removed {args.name}", file=sys.stderr)
        return 0
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise AssistantError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    add_user(path, args.name, password, restricted=args.restricted)
    print(f"{args.name}: {'restricted' if args.restricted else 'public'} access", file=sys.stderr)
    return 0


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
        print(json.dumps({"query": utf8(args.query), "results": [p.to_json() for p in passages]}, ensure_ascii=False))
        return 0
    if not passages:
        print("No passages match.")
    for p in passages:
        where = located(p.meta, p.chunk.page, p.chunk.heading)
        print(f"{p.rank}. {described(p.meta)}{printable(where)})  score {p.score:.3f}")
        print(textwrap.indent(textwrap.fill(printable(" ".join(p.chunk.text.split())), 100), "   "))
        print()
    return 0


def _ask(assistant, args) -> int:
    filters = dict(since=args.since, until=args.until, doc_types=args.types, councils=args.councils)
    if args.question != "-":
        print_answer(assistant.ask(args.question, **filters), args.json)
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
                print(json.dumps({"question": utf8(line.rstrip("\n")), "error": str(exc)}, ensure_ascii=False),
                      flush=True)
            continue
        print_answer(answer, args.json)
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


if __name__ == "__main__":
    sys.exit(main())
