"""Concurrent users against the served app: 1 and 16 users asking 25 eval questions each through POST /api/ask.

Run: `.venv/bin/python bench/concurrency.py` (two to three minutes on 2 cores). It serves the app on
loopback in its own process over the bundled index (`index/`, or a fresh index of `corpus/` in a
temporary folder when there is none), asks every question once alone (warm-up, not timed), times one
user asking them alone, then times 16 users asking them all at once, each starting at a different
question. It prints requests, errors, answers that differ from the one-user answer, p50/p95 latency
and the one-user p50, and writes the figures to bench/results/concurrency.json. `assistant_p50_ms` is
the Assistant's own time per answer (the `latency_ms` it reports); the rest is queueing and HTTP.
Every timed run repeats questions already asked once, so query and sentence vectors come from the
Assistant's caches (the first asks are reported apart): the figures measure serving many users, not
encoding.

`--via ui` asks through the UI's gradio_client endpoint (/ask) instead of the REST API. The Assistant is
thread-safe and the server holds no lock around it, so users are answered side by side.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "concurrency.json"
SERVER_START_SECONDS = 300


def questions(n: int) -> list[str]:
    """`n` eval questions, answerable and not interleaved two to one."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open(encoding="utf-8")]
    answerable = [r["question"] for r in rows if r["answerable"]]
    other = [r["question"] for r in rows if not r["answerable"]]
    mixed: list[str] = []
    while len(mixed) < n:
        mixed.extend(answerable[:2] + other[:1])
        answerable, other = answerable[2:], other[1:]
    return mixed[:n]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(index_dir: Path, port: int) -> None:
    """The server process: load the Assistant, serve it, run until terminated."""
    from assistant import ui
    from assistant.app import Assistant
    from assistant.settings import Settings

    assistant = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False))
    assistant.load()
    app = ui.serve(assistant, port=port, prevent_thread_lock=True, warm_up=False)
    runtime = getattr(assistant.encoder, "runtime_in_use", "torch")
    print(json.dumps({"ready": app.local_url, "encoder": runtime}), flush=True)
    app.block_thread()


@contextlib.contextmanager
def server(index_dir: Path):
    """(URL, encoder runtime) of the app served by a child process (its own interpreter, so the
    clients' threads here do not share the server's GIL)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--index", str(index_dir)],
                               stdout=subprocess.PIPE, text=True)
    try:
        ready: dict = {}
        for line in process.stdout:  # libraries may print first; the server's line is JSON
            if line.startswith('{"ready"'):
                ready = json.loads(line)
                break
        if "ready" not in ready:
            raise SystemExit(f"the server process did not start (exit code {process.poll()})")
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                urllib.request.urlopen(ready["ready"], timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server at {ready['ready']} does not answer") from None
                time.sleep(0.5)
        yield ready["ready"], ready["encoder"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def comparable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "latency_ms"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


VIA = "api"


def ask_all(url: str, asked: list[str]) -> list[tuple[str, float, dict | None, str | None]]:
    """(question, latency ms, result, error) for each question, asked in order by one new client
    (POST /api/ask, or the UI's gradio_client endpoint with --via ui)."""
    if VIA == "ui":
        from gradio_client import Client

        client = Client(url, verbose=False)
        predict = lambda question: client.predict(question, api_name="/ask")  # noqa: E731
    else:
        def predict(question: str) -> dict:
            request = urllib.request.Request(url.rstrip("/") + "/api/ask", json.dumps({"question": question}).encode(),
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
    out = []
    for question in asked:
        started = time.perf_counter()
        try:
            result, error = predict(question), None
        except Exception as exc:  # counted, never fatal: errors are one of the figures
            result, error = None, f"{type(exc).__name__}: {exc}"
        out.append((question, (time.perf_counter() - started) * 1000, result, error))
    return out


def figures(calls: list, expected: dict[str, dict] | None = None) -> dict:
    latencies = [ms for _, ms, _, _ in calls]
    answered = [r for _, _, r, e in calls if not e]
    errors = [e for _, _, _, e in calls if e]
    out = {"requests": len(calls), "errors": len(errors), "first_errors": errors[:3],
           "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(percentile(latencies, 0.95), 1),
           "assistant_p50_ms": round(statistics.median(r["latency_ms"] for r in answered), 1) if answered else None}
    if expected is not None:
        out["answers_differing_from_one_user"] = sum(1 for q, _, r, e in calls
                                                     if not e and comparable(r) != expected[q])
    return out


def many_users(url: str, asked: list[str], users: int, expected: dict[str, dict]) -> dict:
    results: list[list] = [[] for _ in range(users)]

    def user(i: int) -> None:
        start = i % len(asked)
        results[i].extend(ask_all(url, asked[start:] + asked[:start]))

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    calls = [c for r in results for c in r]
    return {"users": users, **figures(calls, expected), "max_ms": round(max(ms for _, ms, _, _ in calls), 1),
            "wall_s": round(wall, 2), "requests_per_s": round(len(calls) / wall, 2)}


def run(url: str, asked: list[str], users: int) -> tuple[dict, dict, dict]:
    """(one user's first asks, one user's repeat asks, many users) figures against the app at `url`."""
    first = ask_all(url, asked)
    if any(e for *_, e in first):
        raise SystemExit(f"the first run failed: {next(e for *_, e in first if e)}")
    expected = {q: comparable(r) for q, _, r, _ in first}
    return figures(first), many_users(url, asked, 1, expected), many_users(url, asked, users, expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="index folder (default: index/)")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--questions", type=int, default=25)
    parser.add_argument("--via", choices=("api", "ui"), default="api",
                        help="ask through POST /api/ask (default) or the UI's gradio_client endpoint")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.index, args.serve)
    global VIA
    VIA = args.via

    asked = questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index
        if not (index_dir / "current").exists():
            from assistant.app import Assistant
            from assistant.settings import Settings

            index_dir = Path(tmp) / "index"
            print(f"no index in {args.index}; building one of corpus/ in {index_dir}", file=sys.stderr)
            Assistant(Settings.load(env={}, index_dir=index_dir, progress=False)).ingest([ROOT / "corpus"])
        with server(index_dir) as (url, encoder):
            first, one, many = run(url, asked, args.users)
        results = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "index": "index/" if index_dir == args.index else "corpus/ (temporary index)",
                   "encoder": encoder, "questions": len(asked), "mix": "2 answerable : 1 not",
                   "via": "POST /api/ask" if VIA == "api" else "gradio_client /ask",
                   "one_user_first_asks": first, "one_user": one, "many_users": many}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"{many['users']} users x {len(asked)} questions: {many['requests']} requests, {many['errors']} errors, "
          f"{many['answers_differing_from_one_user']} answers differing from one user's; "
          f"p50 {many['p50_ms']:.0f} ms, p95 {many['p95_ms']:.0f} ms, {many['requests_per_s']:.1f} answers/s "
          f"(one user alone: p50 {one['p50_ms']:.0f} ms, p95 {one['p95_ms']:.0f} ms, "
          f"{one.get('requests_per_s', 0):.1f} answers/s, of which the Assistant "
          f"{one['assistant_p50_ms']:.0f} ms; first asks, before the caches hold the questions: p50 "
          f"{first['p50_ms']:.0f} ms, Assistant {first['assistant_p50_ms']:.0f} ms)")


if __name__ == "__main__":
    main()
