"""The README's screenshots: chat with an answer, search and library, on a desktop (1366 x 900) and a
phone (390 x 844), taken by Debian's Chromium (`make browser`) over the bundled corpus with the real model.

Run: `make screenshots` (or `.venv/bin/python bench/screenshots.py [OUT_DIR]`); writes
docs/ui-{desktop,phone}-{chat,search,library}.png, each reduced to a 128-colour palette to keep the
repository small.
"""
from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.app import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
QUESTION = "How much extra funding went into children's services in 2021/22?"
QUERY = "Improvement Board"
ANSWER_TIMEOUT = 120_000  # ms
COLOURS = 128


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_png(path: Path) -> int:
    """Rewrite the PNG at `path` with a palette of COLOURS colours (UI screenshots have few); its size."""
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)
    return path.stat().st_size


def take(url: str, out: Path) -> list[Path]:
    """Chat (one answer), Search and Library at each viewport, viewport-sized, as PNGs in `out`."""
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        for name, viewport in VIEWPORTS.items():
            phone = name == "phone"
            context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(ANSWER_TIMEOUT)
            page.goto(url)
            page.fill("#ca-question textarea", QUESTION)
            page.press("#ca-question textarea", "Enter")
            page.wait_for_function("() => document.querySelector('#ca-conversation .ca-turn') && "
                                   "document.querySelector('#ca-conversation [aria-busy=false]')")
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.wait_for_timeout(400)
            shots.append(shot(page, out / f"ui-{name}-chat.png"))

            page.get_by_role("tab", name="Search").click()
            page.fill("#ca-query textarea", QUERY)
            page.click("#ca-search")
            page.locator("#ca-search-cards .ca-result-card" if phone else "#ca-results [role=row].virtual-row").first.wait_for()
            if phone:  # the results, not the form above them
                page.locator("#ca-search-cards").scroll_into_view_if_needed()
                page.evaluate("window.scrollBy(0, -120)")
            page.wait_for_timeout(400)
            shots.append(shot(page, out / f"ui-{name}-search.png"))

            page.evaluate("window.scrollTo(0, 0)")
            page.get_by_role("tab", name="Library").click()
            page.locator("#ca-library-cards .ca-result-card" if phone else "#ca-library [role=row].virtual-row").first.wait_for()
            page.wait_for_timeout(400)
            shots.append(shot(page, out / f"ui-{name}-library.png"))
            context.close()
        browser.close()
    return shots


def shot(page, path: Path) -> Path:
    page.screenshot(path=str(path))
    return path


def main(out: Path = ROOT / "docs") -> None:
    from assistant import ui

    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) first")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings.load(env={}, index_dir=Path(tmp) / "index", progress=False))
        assistant.ingest([ROOT / "corpus"])
        app = ui.serve(assistant, port=free_port(), prevent_thread_lock=True, warm_up=False)
        try:
            for path in take(app.local_url, out):
                print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {small_png(path) / 1024:.0f} KiB")
        finally:
            app.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
