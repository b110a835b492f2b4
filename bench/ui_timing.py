"""Answer-to-screen timings: how long a councillor waits from pressing Enter to the answer drawn on
screen, in Debian's Chromium (`make browser`) over the bundled corpus with the real model, on a desktop
(1366 x 900) and a phone (390 x 844, touch); the bytes the page receives per answer; and, in the same
run, the server's own time for each answer (`Assistant.chat`, what the chat calls), so the browser's
share is a ratio rather than a guess.

Each viewport holds one ten-question conversation: the UI's example questions, then the seed eval file's
dev questions (eval/questions.jsonl). The clock starts in the page at the Enter key's keydown and stops
at the first frame after the turn's answer is in the page (a MutationObserver sees it; a
requestAnimationFrame then a task runs after that frame is painted). Bytes are Chromium's own count
(DevTools `Network.dataReceived`) from Enter to half a second after the answer, Gradio's closing
message included. The model is loaded and one question asked before the clock starts.

Run: `.venv/bin/python bench/ui_timing.py [OUT_JSON]`; prints the figures and writes
bench/results/ui-timing.json. A few minutes; the figures depend on the machine's load (recorded).
"""
from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.ui_actions import EXAMPLE_QUESTIONS  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
QUESTIONS = 10
ANSWER_TIMEOUT = 120_000  # ms
CLOSING_MS = 500  # the wait after an answer for Gradio's closing message, counted in its bytes
OUT = ROOT / "bench" / "results" / "ui-timing.json"

# In the page: Enter's keydown starts the clock; the first frame painted after the newest turn holds
# its answer stops it. window.__drawn[n] is answer n's time in ms (1-based).
CLOCK = """() => {
    window.__drawn = {};
    let started = null, turn = 0;
    const box = document.querySelector('#ca-conversation');
    const answered = () => {
        const turns = box.querySelectorAll('.ca-turn');
        const last = turns[turns.length - 1];
        return turns.length === turn && last && !last.querySelector('[aria-busy=true]') && last.querySelector('.ca-answer:not(.ca-pending)');
    };
    window.addEventListener('keydown', (event) => {
        if (event.key !== 'Enter' || !event.target.closest('#ca-question')) return;
        started = performance.now();
        turn = box.querySelectorAll('.ca-turn').length + 1;
    }, true);
    new MutationObserver(() => {
        if (started === null || !answered()) return;
        const from = started, n = turn;
        started = null;
        requestAnimationFrame(() => {
            const channel = new MessageChannel();
            channel.port1.onmessage = () => { window.__drawn[n] = performance.now() - from; };
            channel.port2.postMessage(null);
        });
    }).observe(box, {childList: true, subtree: true, characterData: true, attributes: true});
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def questions() -> list[str]:
    """The UI's example questions, then the seed eval dev questions in file order: QUESTIONS in all."""
    seed = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    dev = [q["question"] for q in seed if q.get("split") == "dev" and q["question"] not in EXAMPLE_QUESTIONS]
    return (list(EXAMPLE_QUESTIONS) + dev)[:QUESTIONS]


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p90 (linear between ranks), rounded for reading."""
    cuts = statistics.quantiles(values, n=10, method="inclusive")
    return {"p50": round(statistics.median(values), 1), "p90": round(cuts[8], 1), "n": len(values)}


def timed_chat(assistant: Assistant, log: list[float]) -> None:
    """Record the wall time of every `assistant.chat` call (the chat's whole server-side answer)."""
    chat = assistant.chat

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return chat(*args, **kwargs)
        finally:
            log.append((time.perf_counter() - started) * 1000)

    assistant.chat = timed


def conversation(browser, url: str, name: str, viewport: dict, asked: list[str]) -> dict:
    """One conversation of `asked` at `viewport`: per answer, ms from Enter to drawn and bytes received."""
    phone = name == "phone"
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(ANSWER_TIMEOUT)
    page.goto(url)
    page.wait_for_selector("#ca-question textarea")
    page.wait_for_timeout(1000)
    page.evaluate(CLOCK)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    received = {"bytes": 0}
    cdp.on("Network.dataReceived", lambda event: received.__setitem__("bytes", received["bytes"] + event["dataLength"]))
    drawn, sizes = [], []
    for turn, question in enumerate(asked, start=1):
        page.fill("#ca-question textarea", question)
        received["bytes"] = 0
        page.press("#ca-question textarea", "Enter")
        page.wait_for_function(f"() => window.__drawn[{turn}] !== undefined")
        page.wait_for_timeout(CLOSING_MS)
        drawn.append(page.evaluate(f"window.__drawn[{turn}]"))
        sizes.append(received["bytes"])
    context.close()
    return {"enter_to_drawn_ms": percentiles(drawn), "bytes_per_answer": percentiles([float(s) for s in sizes]),
            "per_answer_ms": [round(d, 1) for d in drawn], "per_answer_bytes": sizes}


def main(out: Path = OUT) -> dict:
    from playwright.sync_api import sync_playwright

    from assistant import ui

    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) first")
    asked = questions()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings.load(env={}, index_dir=Path(tmp) / "index", progress=False))
        assistant.ingest([ROOT / "corpus"])
        assistant.chat([], asked[0])  # the model loaded and warm before any clock starts
        server: list[float] = []
        timed_chat(assistant, server)
        app = ui.serve(assistant, port=free_port(), prevent_thread_lock=True, warm_up=False)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
                views = {name: conversation(browser, app.local_url, name, viewport, asked)
                         for name, viewport in VIEWPORTS.items()}
                browser.close()
        finally:
            app.close()
    server_ms = percentiles(server)
    result = {
        "what": "ms from Enter to the answer drawn in Chromium, bytes received per answer, and the server's "
                "Assistant.chat time per answer in the same run; bundled corpus, real model",
        "questions": asked,
        "server_chat_ms": server_ms,
        "viewports": views,
        "screen_over_server_p50": {name: round(v["enter_to_drawn_ms"]["p50"] / server_ms["p50"], 1)
                                   for name, v in views.items()},
        "machine": {"cpus": os.cpu_count(), "load_1_5_15_before": [round(x, 2) for x in load_before],
                    "load_1_5_15_after": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"server Assistant.chat: p50 {server_ms['p50']} ms, p90 {server_ms['p90']} ms ({server_ms['n']} answers)")
    for name, v in views.items():
        t, b = v["enter_to_drawn_ms"], v["bytes_per_answer"]
        print(f"{name:8s} Enter -> answer drawn: p50 {t['p50']} ms, p90 {t['p90']} ms "
              f"({result['screen_over_server_p50'][name]}x the server's p50); bytes per answer: "
              f"p50 {b['p50'] / 1000:.1f} kB, p90 {b['p90'] / 1000:.1f} kB")
    print(f"load average before {result['machine']['load_1_5_15_before']}, after {result['machine']['load_1_5_15_after']} "
          f"on {result['machine']['cpus']} CPUs; written to {out}")
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
