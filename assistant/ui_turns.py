"""The conversation's turns on their way to the page and back: an answer run on its own thread with its
streamed text passed on as it comes, and the finished turns as JSON for the browser's local storage,
read back on reload.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from typing import Callable, Iterator

from .types import Answer, Citation, DocumentMeta, ShortAnswer

log = logging.getLogger(__name__)

KEPT_TURNS = 50  # turns kept in the browser's storage; older ones are dropped first


def streamed(ask: Callable[..., Answer]) -> Iterator[str | Answer]:
    """Run `ask(on_text=...)` on its own thread and yield what it reports as it comes: the reply so far
    each time the LLM sends tokens (only the newest when several wait, so a slow page is not fed
    every token), then the finished `Answer`; an exception `ask` raises is raised here."""
    updates: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            updates.put(("answer", ask(on_text=lambda text: updates.put(("text", text)))))
        except BaseException as exc:  # handed to the caller's thread
            updates.put(("error", exc))

    threading.Thread(target=run, name="answer", daemon=True).start()
    while True:
        kind, item = updates.get()
        while kind == "text" and not updates.empty():
            kind, item = updates.get()
        if kind == "error":
            raise item
        yield item
        if kind == "answer":
            return


def stored_turns(turns: list[Answer]) -> list[dict]:
    """The conversation as JSON for the browser's local storage (static/conversation.js keeps one
    record per turn, the newest `KEPT_TURNS`)."""
    return [dataclasses.asdict(answer) for answer in turns[-KEPT_TURNS:]]


def restored_turns(stored: object) -> list[Answer]:
    """The turns `stored_turns` wrote; an empty conversation for anything unreadable (a value written by
    another version, say), so a stale store never breaks the page."""
    try:
        return [_answer(data) for data in stored or ()]
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        log.warning("stored conversation not restored: %s", exc)
        return []


def _answer(data: dict) -> Answer:
    short = data.get("short_answer")
    return Answer(**{**data, "citations": tuple(_citation(c) for c in data.get("citations") or ()),
                     "notes": tuple(data.get("notes") or ()), "short_answer": ShortAnswer(**short) if short else None})


def _citation(data: dict) -> Citation:
    meta = data["meta"]
    return Citation(**{**data, "meta": DocumentMeta(**{**meta, "ocr_pages": tuple(meta.get("ocr_pages") or ()),
                                                         "items": tuple(tuple(i) for i in meta.get("items") or ()),
                                                         "inferred": tuple(meta.get("inferred") or ())})})
