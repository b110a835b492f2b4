"""What the browser app does: each `Actions` method calls the `Assistant` and returns the values the
layout in ui.py shows. The JSON API endpoints for `gradio_client` (/ask, /search, /document, /documents)
live here too, as do the user-facing wording of errors.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Sequence

import gradio as gr

from .errors import AssistantError, FeedbackError, QueryError
from .export import Exports
from .serving import RateLimit
from .types import Answer, DocumentMeta, Passage
from .ui_html import (conversation_html, document_html, header_html, notice_html, notice_step, page_notice_html,
                      page_view_html, part_step, pending_turn_html, source_group_step, sources_html, streamed_text,
                      text_step, turn_html, type_choices, whole_step)
from .ui_results import library_cards_html, library_rows, library_summary_md, search_rows
from .ui_nav import located_html, parse_fragment
from .ui_panels import (filter_chips_html, filter_note, filter_words, quote_span, watches_html)
from .ui_turns import KEPT_TURNS, restored_turns, stored_turns, streamed
from .users import Logins

if TYPE_CHECKING:
    from .feedback import FeedbackStore

log = logging.getLogger(__name__)

# Questions the shipped corpus answers; pass `examples=` to build_app for another archive.
EXAMPLE_QUESTIONS = (
    "How much extra funding went into children's services in 2021/22?",
    "When was the notice of the Ofsted inspection received?",
    "Who is the DfE adviser working with the Improvement Board?",
    "Why was a government commissioner appointed?",
)
SHOWN_MATCHES = 20  # watch matches the Watches tab lists per watch, newest first
_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
UNCHANGED = (gr.skip(),) * 4  # a chat step that changes nothing
UNEXPECTED = "Something went wrong on the server; the details are in its log. Please try again."


def answer_json(answer: Answer) -> dict:
    """`Answer.to_json()` plus each citation's offsets into its document (for /document)."""
    out = answer.to_json()
    for data, citation in zip(out["citations"], answer.citations):
        data.update(start=citation.start, end=citation.end)
    return out


def passage_json(passage: Passage) -> dict:
    return {**passage.to_json(), "start": passage.chunk.start, "end": passage.chunk.end}


def filter_date(text: str | None, label: str) -> str | None:
    """A date typed into the filter box called `label`, as ISO text (None when empty): day first as
    written in the UK (31/12/2021, 31.12.2021, 31-12-2021) or ISO (2021-12-31). Anything else is a
    QueryError in the UI's own words."""
    text = (text or "").strip()
    if not text:
        return None
    day_first = _DAY_FIRST.fullmatch(text)
    try:
        if day_first:
            day, month, year = (int(g) for g in day_first.groups())
            return dt.date(year, month, day).isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise QueryError(f"The “{label}” date “{text}” is not a date we can read; "
                         "write it like 31/12/2021 (day, month, year).") from None


class Actions:
    """The app's calls into the Assistant, made from Gradio's worker threads side by side: the
    Assistant is thread-safe, so no call waits behind another (a slow LLM reply holds up only its own
    user). An answer depends only on the question and the index build, whoever else is asking
    (tests/test_concurrency.py checks it; bench/concurrency.py measures it)."""

    def __init__(self, assistant, examples: Sequence[str] = EXAMPLE_QUESTIONS, logins: Logins | None = None,
                 limit: RateLimit | None = None) -> None:
        self.assistant = assistant
        self.examples = tuple(examples)
        self.logins = logins or Logins()
        self.limit = limit or RateLimit()
        self.exports = Exports()

    def warm_up(self) -> None:
        """Load the embedding model and the index before the first question needs them."""
        try:
            self.assistant.load()
        except Exception:  # a failure here will be reported to the first question instead
            log.exception("warm-up failed")

    def sees_restricted(self, request: gr.Request | None) -> bool:
        """Whether the signed-in user of `request` may see restricted papers (everyone may when the app
        has no login; nobody unknown to the users file may)."""
        if not self.logins.required:
            return True
        user = self.logins.user(getattr(request, "username", None))
        return bool(user and user.restricted)

    def _admit(self, request: gr.Request | None) -> str | None:
        """None when the user may ask now, else the rate limit's message."""
        key = getattr(request, "username", None) or getattr(getattr(request, "client", None), "host", None) or ""
        wait = self.limit.wait(key)
        return self.limit.message(wait) if wait else None

    # --- chat -------------------------------------------------------------------------------
    def respond(self, message: str, turns: list[Answer], since: str | None, until: str | None,
                doc_types: list[str] | None, request: gr.Request = None):
        """Answer `message`: (conversation step, sources step, turns, question box) per step. Each step
        changes only this answer's own turn (see `ui_html.whole_step`): the pending question, then the
        LLM's reply as its tokens arrive (when an LLM is configured; an extractive answer comes whole,
        in one step), then the finished turn with its sources, which the page also adds to its copy of
        the conversation. The question box is emptied once, when the question is taken, so that the next
        question can be typed while this answer comes."""
        turns = list(turns or [])
        index = len(turns)
        asked = (message or "").strip()
        if asked:
            yield gr.HTML(step=part_step(pending_turn_html(asked, index), busy=True)), gr.skip(), turns, ""
        refused = self._admit(request)
        if refused:
            yield self._notice(refused, turns, index if asked else None), gr.skip(), turns, message
            return
        try:
            since, until = filter_date(since, "From"), filter_date(until, "To")
            history = [(a.question, a.text) for a in turns]
            ask = partial(self.assistant.chat, history, message, since=since, until=until,
                          doc_types=tuple(doc_types or ()), restricted=self.sees_restricted(request))
            answer = None
            for reply in streamed(ask):
                if isinstance(reply, Answer):
                    answer = reply
                else:
                    yield gr.HTML(step=text_step(index, streamed_text(reply))), gr.skip(), turns, gr.skip()
        except Exception as exc:
            yield self._notice(friendly(exc), turns, index if asked else None), gr.skip(), turns, message
            return
        note = filter_note(since, until, doc_types or ())
        if note:
            answer = dataclasses.replace(answer, notes=(*answer.notes, note))
        turns.append(answer)
        record = stored_turns([answer])[0]
        yield (gr.HTML(step=part_step(turn_html(answer, index), record=record, keep=KEPT_TURNS)),
               gr.HTML(step=source_group_step(len(turns), answer)), turns, gr.skip())
        yield UNCHANGED  # Gradio's closing message repeats the last step: let that be an empty one

    def _notice(self, notice: str, turns: list[Answer], pending: int | None) -> gr.HTML:
        """The step that shows an error in plain words, the pending turn removed (the whole empty
        conversation with its example questions when there are no turns yet)."""
        if not turns:
            return gr.HTML(step=whole_step(conversation_html([], notice=notice, examples=self.examples)))
        return gr.HTML(step=notice_step(notice, pending))

    def filter_chips(self, since: str | None, until: str | None, doc_types: list[str] | None) -> str:
        """The chips naming the chat's active filters (a date that cannot be read shows as such)."""
        words, problem = [], None
        for text, label in ((since, "From"), (until, "To")):
            try:
                iso = filter_date(text, label)
            except QueryError:
                problem = f"“{label}” date “{(text or '').strip()}” not understood"
                continue
            if iso:
                words.extend(filter_words(iso, None, ()) if label == "From" else filter_words(None, iso, ()))
        return filter_chips_html(words + filter_words(None, None, doc_types or ()), problem)

    def ask_example(self, turns: list[Answer], since, until, doc_types, evt: gr.EventData,
                    request: gr.Request = None):
        yield from self.respond(str(getattr(evt, "question", "")), turns, since, until, doc_types, request)

    def new_chat(self):
        """An empty conversation, in the page and in the browser's storage."""
        return (gr.HTML(step=whole_step(conversation_html([], examples=self.examples), records=[])),
                gr.HTML(step=whole_step(sources_html([]))), [])

    def restore(self, evt: gr.EventData):
        """(conversation, sources, turns) for the conversation the browser kept (static/conversation.js
        sends it once the page has loaded): the only time the whole conversation is sent."""
        turns = restored_turns(getattr(evt, "turns", None))
        if not turns:
            return gr.skip(), gr.skip(), gr.skip()
        return (gr.HTML(step=whole_step(conversation_html(turns, examples=self.examples))),
                gr.HTML(step=whole_step(sources_html(turns))), turns)

    def rate(self, turns: list[Answer], evt: gr.EventData, request: gr.Request = None) -> str:
        """Record a 👍/👎 (with its comment) on the answer of one turn of this conversation; the answer,
        its citations and the question are the server's own record of the turn, not what the browser
        sends. Returns the status line that confirms it."""
        from . import feedback

        turns = list(turns or [])
        turn, rating = _int(getattr(evt, "turn", None)), str(getattr(evt, "rating", ""))
        if turn is None or not 0 <= turn < len(turns):
            return notice_html("That answer is no longer in this conversation; ask again to rate it.")
        user = getattr(request, "username", None) if self.logins.required else None
        try:
            entry = feedback.from_answer(turns[turn], rating, str(getattr(evt, "note", "") or ""), user)
            self.feedback_store().record(entry)
        except FeedbackError as exc:  # the operator's problem: the file's name goes to the log, not the page
            log.error("rating not recorded: %s", exc)
            return notice_html("Your rating could not be recorded: the server cannot write its feedback store. "
                               "The details are in its log.")
        except Exception as exc:
            return notice_html(friendly(exc))
        mark = "👍" if rating == "up" else "👎"
        comment = " and your comment" if entry.note else ""
        return (f'<p class="ca-small" role="status">Thank you: your {mark}{comment} on question {turn + 1} '
                "was recorded, to help check and improve the answers.</p>")

    def feedback_store(self) -> FeedbackStore:
        """The feedback store of the settings, opened (and old JSON Lines feedback imported) on first use."""
        from . import feedback

        store = getattr(self, "_feedback_store", None)
        if store is None:
            store = self._feedback_store = feedback.open_store(self.assistant.settings)
        return store

    # --- documents --------------------------------------------------------------------------
    def open_document(self, doc_id: str, start: int | None = None, end: int | None = None,
                      request: gr.Request = None, page: int | None = None) -> str:
        """The document view for an indexed doc_id the user may see (anything else gets a plain message);
        with `page`, that page of the original PDF beside the text, the span marked on it. Only the
        doc_id and the numbers come from the browser: the Assistant finds the file from its index."""
        restricted = self.sees_restricted(request)
        try:
            document = self.assistant.document(str(doc_id), restricted=restricted) if doc_id else None
        except Exception as exc:
            return notice_html(friendly(exc))
        if document is None:
            return notice_html("That paper is not in the index (it may have been removed since). "
                               "Search or browse the library for it.")
        page_view = None
        if page is not None:
            try:
                image = self.assistant.page_image(str(doc_id), page, start, end, restricted=restricted)
                page_view = page_view_html(image, document.meta.title)
            except Exception as exc:
                page_view = page_notice_html(f"The original page cannot be shown: {friendly(exc)[:1].lower()}"
                                             f"{friendly(exc)[1:]}.")
        return document_html(document, start, end, page_view)

    def show_document(self, doc_id: str, start: int | None = None, end: int | None = None,
                      request: gr.Request = None, page: int | None = None):
        """(document view, tab switch); the view carries its URL fragment (ui_nav). Where "← Back" goes is
        the browser's history (static/nav.js), so the server keeps no note of the tab it came from."""
        view = located_html(self.open_document(doc_id, start, end, request, page), doc_id, start, end, page)
        return view, gr.Tabs(selected="document")

    def open_location(self, fragment: str, request: gr.Request = None):
        """(document view, tab switch) for the view a URL fragment names: a shared
        link or a reload (on page load), or Back/Forward to a document the page no longer shows."""
        where = parse_fragment(fragment)
        if where.doc_id is None:  # the Chat tab is where the page opens anyway; leave it where it is
            return gr.skip(), gr.Tabs(selected=where.tab) if where.tab != "chat" else gr.skip()
        return self.show_document(where.doc_id, where.start, where.end, request, where.page)

    def navigate(self, evt: gr.EventData, request: gr.Request = None):
        return self.open_location(str(getattr(evt, "fragment", "") or ""), request)

    def open_citation(self, evt: gr.EventData, request: gr.Request = None):
        return self.show_document(str(getattr(evt, "doc_id", "")), _int(getattr(evt, "start", None)),
                                  _int(getattr(evt, "end", None)), request, _int(getattr(evt, "page", None)))

    def open_search_result(self, passages: list[Passage], evt: gr.SelectData, request: gr.Request = None):
        row = _row(evt, len(passages or ()))
        if row is None:
            return gr.skip(), gr.skip()
        p = passages[row]
        return self.show_document(p.meta.doc_id, p.chunk.start, p.chunk.end, request)

    def open_library_row(self, doc_ids: list[str], evt: gr.SelectData, request: gr.Request = None):
        row = _row(evt, len(doc_ids or ()))
        if row is None:
            return gr.skip(), gr.skip()
        return self.show_document(doc_ids[row], request=request)

    def open_search_card(self, evt: gr.EventData, request: gr.Request = None):
        """A search result card tapped (the phone's view of the results): its paper at the passage."""
        return self.show_document(str(getattr(evt, "doc_id", "")), _int(getattr(evt, "start", None)),
                                  _int(getattr(evt, "end", None)), request)

    def open_library_card(self, evt: gr.EventData, request: gr.Request = None):
        """A library card tapped (the phone's view of the library): its paper from the top."""
        return self.show_document(str(getattr(evt, "doc_id", "")), request=request)

    def library_view(self, request: gr.Request = None):
        """(header, library summary, library rows, their doc_ids, the two type filters, and the library
        as cards) for the index as it is now, as the signed-in user may see it."""
        try:
            documents = self.assistant.documents(restricted=self.sees_restricted(request))
        except Exception as exc:  # the page keeps the library it was built with
            log.warning("library not refreshed: %s", friendly(exc))
            return (gr.skip(),) * 7
        types = sorted({meta.doc_type for meta, _ in documents})
        return (header_html(documents), library_summary_md(documents), library_rows(documents),
                [m.doc_id for m, _ in documents], gr.CheckboxGroup(choices=type_choices(types)),
                gr.CheckboxGroup(choices=type_choices(types)), library_cards_html(documents))

    # --- watches ----------------------------------------------------------------------------
    def watches_view(self, request: gr.Request = None) -> str:
        """The Watches panel for the signed-in user: the watches shared with everyone and their own
        (all of them without logins), each with its matches among the papers they may see, newest
        first (at most `SHOWN_MATCHES` per watch)."""
        from . import watches

        try:
            book = watches.load(watches.watches_path(self.assistant.settings))
            restricted = self.sees_restricted(request)
            visible = {meta.doc_id for meta, _ in self.assistant.documents(restricted=restricted)}
        except Exception as exc:
            return notice_html(friendly(exc))
        user = getattr(request, "username", None) if self.logins.required else None
        groups, texts = [], {}
        for watch in watches.visible_to(book.watches, user, everyone=not self.logins.required):
            matches = [m for m in book.matches if m.watch == watch.name and m.doc_id in visible]
            shown = []
            for match in sorted(matches, key=lambda m: (m.found, m.date or ""), reverse=True)[:SHOWN_MATCHES]:
                if match.doc_id not in texts:
                    document = self.assistant.document(match.doc_id, restricted=restricted)
                    texts[match.doc_id] = document.text if document else ""
                shown.append((match, quote_span(texts[match.doc_id], match.quote)))
            groups.append((watch, shown))
        return watches_html(groups, user)

    def open_watch_match(self, evt: gr.EventData, request: gr.Request = None):
        return self.show_document(str(getattr(evt, "doc_id", "")), _int(getattr(evt, "start", None)),
                                  _int(getattr(evt, "end", None)), request)

    # --- search -----------------------------------------------------------------------------
    def search_table(self, query: str, k: float, since: str | None, until: str | None, doc_types: list[str] | None,
                     request: gr.Request = None):
        """(table rows, CSV download, passages, status) for a query; the status says when filters
        limited the papers searched, in the words an answer uses."""
        try:
            since, until = filter_date(since, "From"), filter_date(until, "To")
            passages = self.assistant.search(query, k=int(k), since=since, until=until,
                                             doc_types=tuple(doc_types or ()),
                                             restricted=self.sees_restricted(request))
        except Exception as exc:
            return [], gr.DownloadButton(value=None, visible=False), [], notice_html(friendly(exc))
        note = filter_note(since, until, doc_types or ())
        filtered = f'<p class="ca-small ca-filtered">{html.escape(note)}</p>' if note else ""
        if not passages:
            return ([], gr.DownloadButton(value=None, visible=False), [],
                    f'<p class="ca-small">No passages match; try other words or fewer filters.</p>{filtered}')
        path = self.exports.search_csv(query, passages)
        status = (f'<p class="ca-small">{len(passages)} passage{"s" if len(passages) != 1 else ""}, best first. '
                  f"Select one to read it in its paper.</p>{filtered}")
        return search_rows(passages), gr.DownloadButton(value=str(path), visible=True), passages, status

    # --- API (JSON for gradio_client) -----------------------------------------------------
    def api_ask(self, question: str, history: list | None = None, since: str | None = None,
                until: str | None = None, doc_types: list[str] | None = None, request: gr.Request = None) -> dict:
        """A cited answer: the `ask --json` object, with each citation's start/end offsets. `history`:
        earlier turns as [question, answer] pairs or role/content messages, for follow-ups."""
        refused = self._admit(request)
        if refused:
            raise gr.Error(refused, print_exception=False)
        try:
            answer = self.assistant.chat(history or [], question, since=since or None,
                                         until=until or None, doc_types=doc_types or (),
                                         restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return answer_json(answer)

    def api_search(self, query: str, k: int | None = None, since: str | None = None, until: str | None = None,
                   doc_types: list[str] | None = None, request: gr.Request = None) -> dict:
        """Ranked passages: the `search --json` object, with each passage's start/end offsets."""
        try:
            passages = self.assistant.search(query, k=k, since=since or None, until=until or None,
                                             doc_types=doc_types or (), restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return {"query": query, "results": [passage_json(p) for p in passages]}

    def api_document(self, doc_id: str, request: gr.Request = None) -> dict:
        """An indexed document's metadata and cleaned text (page_starts: offsets where PDF pages begin)."""
        try:
            document = self.assistant.document(str(doc_id), restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        if document is None:
            raise gr.Error(f"no indexed document has the id {_short(doc_id)}; /documents lists them",
                           print_exception=False)
        return {**_meta_json(document.meta), "text": document.text, "page_starts": list(document.page_starts)}

    def api_documents(self, request: gr.Request = None) -> list:
        """The indexed documents with their metadata and chunk counts."""
        try:
            documents = self.assistant.documents(restricted=self.sees_restricted(request))
        except Exception as exc:
            raise api_error(exc) from None
        return [{**_meta_json(meta), "chunks": chunks} for meta, chunks in documents]


def _meta_json(meta: DocumentMeta) -> dict:
    return {"doc_id": meta.doc_id, "title": meta.title, "date": meta.date, "doc_type": meta.doc_type,
            "council": meta.council, "committee": meta.committee, "source": meta.source}


def _short(value, limit: int = 80) -> str:
    """`value` quoted for an error message, cut to `limit` characters."""
    text = repr(str(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _row(evt: gr.SelectData, rows: int) -> int | None:
    """The table row a select event points at, if it is one of `rows`."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return row if isinstance(row, int) and 0 <= row < rows else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def friendly(exc: BaseException) -> str:
    """What the user is told: the assistant's own message, or a plain apology for anything else."""
    if isinstance(exc, AssistantError):
        text = str(exc)
        return text[:1].upper() + text[1:]
    log.error("unexpected error in the UI", exc_info=exc)
    return UNEXPECTED


def api_error(exc: BaseException) -> gr.Error:
    return gr.Error(friendly(exc), print_exception=False)

