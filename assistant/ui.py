"""The browser app: chat with cited answers (councillors), passage search with CSV export (officers),
the library of indexed papers, and a document view that shows a cited passage in its source.

Interfaces call only the `Assistant`. This module lays out the Blocks and wires their events to
`ui_actions.Actions`; the HTML comes from the pure builders in `ui_html`, the style and the browser
scripts from the package files in static/. `serve` launches the app (loopback by default, analytics
off, login when both UI settings are set) behind `serving.RequestGuard`, which bounds request bodies
and refuses clients without a login before reading them. Documents are opened by doc_id through the
Assistant, so nothing the browser sends reaches the file system.
"""
from __future__ import annotations

from .settings import prepare_libraries

prepare_libraries("gradio")  # before Gradio is imported: it reads the variable then

import logging
import os
import signal
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Sequence

import gradio as gr
from starlette.middleware import Middleware

from .api import build_api, mount
from .serving import RateLimit, RequestGuard
from .ui_actions import EXAMPLE_QUESTIONS, UNEXPECTED, Actions, friendly
from .ui_html import (TITLE, conversation_html, header_html, placeholder_document_html, sources_html,
                      type_choices)
from .ui_results import (LIBRARY_HEADERS, LIBRARY_TYPES, SEARCH_HEADERS, SEARCH_TYPES, library_cards_html,
                         library_rows, library_summary_md, search_cards_html)
from .ui_panels import (filter_chips_html, watches_html)
from .users import Logins

log = logging.getLogger(__name__)

__all__ = ["Actions", "UNEXPECTED", "build_app", "friendly", "library_rows", "serve"]


def date_box(label: str, elem_id: str) -> gr.Textbox:
    """A typed date filter (day first, as written in the UK, or ISO): a labelled text box, since Gradio's
    date picker drops any text not in its own format without a word."""
    return gr.Textbox(label=label, placeholder="e.g. 31/12/2021", max_lines=1, elem_id=elem_id, min_width=140)


def static_text(name: str) -> str:
    """A file of assistant/static (shipped as package data) as text."""
    return resources.files("assistant").joinpath("static", name).read_text(encoding="utf-8")


CSS = static_text("ui.css")
PANEL_JS = static_text("panel.js")
STEPS_JS = static_text("steps.js")
CONVERSATION_JS = PANEL_JS + STEPS_JS + static_text("conversation.js") + static_text("actions.js")
SOURCES_JS = PANEL_JS + STEPS_JS + static_text("sources.js")
CHIPS_JS = static_text("chips.js")
# Run after a document opens: brings the highlighted span into view once its tab is visible.
SCROLL_TO_HIT_JS = static_text("scroll_to_hit.js")
# On the page header: a URL per tab and per opened document (Back/Forward, shared links), focus on
# opening and closing a document (the header is always drawn, so its script runs on every load).
NAV_JS = static_text("nav.js")
# Under the question box: a question asked offline is kept and sent when the browser is back online.
OFFLINE_JS = static_text("offline.js")


def build_app(assistant, examples: Sequence[str] = EXAMPLE_QUESTIONS, logins: Logins | None = None,
              limit: RateLimit | None = None) -> gr.Blocks:
    """The Blocks app over `assistant`: Chat, Search, Library and Document tabs, plus JSON API endpoints.
    With a login, the page is laid out with the public papers only; each page load then shows the
    signed-in user what they may see."""
    actions = Actions(assistant, examples, logins, limit)
    documents = assistant.documents(restricted=not actions.logins.required)
    doc_types = sorted({meta.doc_type for meta, _ in documents})
    private = dict(api_visibility="private")

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        header = gr.HTML(header_html(documents), apply_default_css=False, js_on_load=NAV_JS)
        turns = gr.State([])
        passages = gr.State([])
        library_ids = gr.State([m.doc_id for m, _ in documents])
        fragment = gr.Textbox(visible=False)  # the URL's #fragment, read by the page's load event

        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=320):
                        chips = gr.HTML(filter_chips_html([]), elem_id="ca-filter-chips", apply_default_css=False,
                                        js_on_load=CHIPS_JS)
                        conversation = gr.HTML(conversation_html([], examples=actions.examples),
                                               elem_id="ca-conversation", apply_default_css=False,
                                               js_on_load=CONVERSATION_JS, step={})
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(show_label=False, placeholder="Ask about the council papers…",
                                                  lines=1, max_lines=6, scale=5, elem_id="ca-question",
                                                  autofocus=True, container=False)
                            ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ca-ask")
                        gr.HTML("", elem_id="ca-offline", apply_default_css=False, js_on_load=OFFLINE_JS)
                        with gr.Row():
                            new_chat = gr.Button("New chat", size="sm", variant="secondary", scale=0,
                                                 min_width=110, elem_id="ca-new-chat")
                            feedback_status = gr.HTML("", elem_id="ca-feedback-status", apply_default_css=False,
                                                      js_on_load=None)
                        with gr.Accordion("Filters: dates and types of paper", open=False):
                            with gr.Row():
                                chat_since = date_box("From", "ca-chat-since")
                                chat_until = date_box("To", "ca-chat-until")
                            chat_types = gr.CheckboxGroup(type_choices(doc_types), label="Types of paper (none ticked: all)")
                    with gr.Column(scale=2, min_width=300):
                        sources = gr.HTML(sources_html([]), elem_id="ca-sources", apply_default_css=False,
                                          js_on_load=SOURCES_JS, step={})

            with gr.Tab("Search", id="search"):
                gr.Markdown("Ranked passages from the papers, for checking and exporting. "
                            "Select a result to read the passage in its paper.")
                with gr.Row(equal_height=True):
                    query = gr.Textbox(label="Search the papers", placeholder="e.g. foster carers recruitment",
                                       scale=5, elem_id="ca-query")
                    k = gr.Slider(1, 50, value=assistant.settings.top_k, step=1, label="Results", scale=2)
                    search_button = gr.Button("Search", variant="primary", scale=1, min_width=90,
                                              elem_id="ca-search")
                with gr.Row():
                    search_since = date_box("From", "ca-search-since")
                    search_until = date_box("To", "ca-search-until")
                    search_types = gr.CheckboxGroup(type_choices(doc_types), label="Types of paper (none ticked: all)")
                with gr.Row(equal_height=True):
                    search_status = gr.HTML("", elem_classes="ca-status", apply_default_css=False, js_on_load=None)
                    download = gr.DownloadButton("Download CSV", visible=False, elem_id="ca-download", size="md",
                                                 scale=0, min_width=160)
                results = gr.Dataframe(headers=SEARCH_HEADERS, datatype=SEARCH_TYPES, value=[], interactive=False, wrap=True,
                                       column_widths=["6%", "22%", "10%", "12%", "6%", "7%", "37%"],
                                       elem_id="ca-results", max_height=640)
                search_cards = gr.HTML(search_cards_html([]), elem_id="ca-search-cards", apply_default_css=False,
                                       js_on_load=PANEL_JS)  # the results on a phone (ui.css: below 700 px)

            with gr.Tab("Library", id="library"):
                library_summary = gr.Markdown(library_summary_md(documents))
                library = gr.Dataframe(headers=LIBRARY_HEADERS, datatype=LIBRARY_TYPES, value=library_rows(documents),
                                       interactive=False, wrap=True, elem_id="ca-library", max_height=720,
                                       column_widths=["44%", "13%", "17%", "17%", "9%"])
                library_cards = gr.HTML(library_cards_html(documents), elem_id="ca-library-cards",
                                        apply_default_css=False, js_on_load=PANEL_JS)

            with gr.Tab("Watches", id="watches") as watches_tab:
                watches_panel = gr.HTML(watches_html([]), elem_id="ca-watches", apply_default_css=False,
                                        js_on_load=PANEL_JS)

            with gr.Tab("Document", id="document"):
                gr.Button("← Back", size="sm", variant="secondary", scale=0, min_width=90,
                          elem_id="ca-back")
                document = gr.HTML(placeholder_document_html(), elem_id="ca-document", apply_default_css=False,
                                   js_on_load=None)

        # The JSON API first, so that its endpoints own these names.
        gr.api(actions.api_ask, api_name="ask")
        gr.api(actions.api_search, api_name="search")
        gr.api(actions.api_document, api_name="document")
        gr.api(actions.api_documents, api_name="documents")

        chat_inputs = [question, turns, chat_since, chat_until, chat_types]
        chat_outputs = [conversation, sources, turns, question]
        # One event for Enter and the button, so that they cannot run at once on the same turns; a
        # question sent while the last answer's event is still closing is answered after it, not
        # dropped (Gradio's default for a submit ignores it while an event is pending).
        gr.on([question.submit, ask.click], actions.respond, chat_inputs, chat_outputs, show_progress="hidden",
              trigger_mode="always_last", **private)
        conversation.ask_example(actions.ask_example, [turns, chat_since, chat_until, chat_types], chat_outputs,
                                 show_progress="hidden", **private)
        new_chat.click(actions.new_chat, None, [conversation, sources, turns], **private)
        filters = [chat_since, chat_until, chat_types]
        for box in filters:
            box.change(actions.filter_chips, filters, [chips], show_progress="hidden", **private)
        chips.clear_filters(lambda: ("", "", []), None, filters, **private)
        conversation.feedback(actions.rate, [turns], [feedback_status], show_progress="hidden", **private)
        for panel in (conversation, sources):
            panel.cite(actions.open_citation, None, [document, tabs], **private).then(
                None, None, None, js=SCROLL_TO_HIT_JS, **private)

        search_inputs = [query, k, search_since, search_until, search_types]
        search_outputs = [results, download, passages, search_status]
        for trigger in (query.submit, search_button.click):
            trigger(actions.search_table, search_inputs, search_outputs, **private).then(
                search_cards_html, [passages], [search_cards], show_progress="hidden", **private)
        results.select(actions.open_search_result, [passages], [document, tabs], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)
        library.select(actions.open_library_row, [library_ids], [document, tabs], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)

        search_cards.cite(actions.open_search_card, None, [document, tabs], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)
        library_cards.cite(actions.open_library_card, None, [document, tabs], **private)
        watches_panel.cite(actions.open_watch_match, None, [document, tabs], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)
        watches_tab.select(actions.watches_view, None, [watches_panel], **private)

        # "← Back" is handled in the browser (nav.js): it goes back in the browser's history, or to the Chat tab.
        header.navigate(actions.navigate, None, [document, tabs], **private).then(
            None, None, None, js=SCROLL_TO_HIT_JS, **private)
        app.load(actions.open_location, [fragment], [document, tabs], js="() => location.hash",
                 **private).then(None, None, None, js=SCROLL_TO_HIT_JS, **private)
        conversation.restore(actions.restore, None, [conversation, sources, turns], **private)
        # Each page load shows the index as it is now: ingest may have published a new build since.
        app.load(actions.library_view, None,
                 [header, library_summary, library, library_ids, chat_types, search_types, library_cards], **private)
    app.actions = actions
    return app


def logins_for(settings) -> Logins:
    """The logins the settings name: the users file when it exists, else the single UI login."""
    return Logins(Path(settings.users_file) if settings.users_file else None, settings.ui_username,
                  settings.ui_password)


def serve(assistant, host: str = "127.0.0.1", port: int = 7860, *, prevent_thread_lock: bool = False,
          warm_up: bool = True) -> gr.Blocks:
    """Build and launch the app; blocks until interrupted unless `prevent_thread_lock`."""
    settings = assistant.settings
    logins = logins_for(settings)
    limit = RateLimit(settings.rate_limit)
    auth = (lambda name, password: logins.check(name, password) is not None) if logins.required else None
    app = build_app(assistant, logins=logins, limit=limit)
    if auth is None and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s without a login; set ui_username and ui_password to require one", host)
    if warm_up:
        threading.Thread(target=app.actions.warm_up, name="warm-up", daemon=True).start()
    app.queue(default_concurrency_limit=concurrency_limit(available_cores()))
    app.launch(server_name=host, server_port=port, auth=auth, auth_message=f"{TITLE}: please sign in.",
               prevent_thread_lock=True, show_error=False, quiet=True, ssr_mode=False, pwa=False,
               mcp_server=False, footer_links=["api"], css=CSS, theme=theme(),
               app_kwargs={"middleware": [Middleware(RequestGuard)]})
    mount(app.server_app, build_api(assistant, logins, limit))
    print(f"council-assistant: serving on {app.local_url}" + (" (login required)" if auth else ""),
          file=sys.stderr, flush=True)
    if not prevent_thread_lock:
        exit_on_sigterm()
        app.block_thread()
    return app


def exit_on_sigterm() -> None:
    """Make SIGTERM (what service managers and `docker stop` send) a normal exit, so that exit handlers
    run and the CSV export folder is removed (export.Exports); by default SIGTERM ends the process
    without them. Only from the main thread, and never over a handler someone else set."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame) -> None:
    log.info("signal %d: shutting down", signum)
    raise SystemExit(0)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's limit narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def concurrency_limit(cores: int) -> int:
    """How many events of one kind Gradio runs at once: four per core, at least 8. The work is CPU-bound
    but short (tens of ms), and an LLM reply is a wait, not work: a few waiting calls per core keep
    the cores busy without a slow endpoint holding up every user."""
    return max(8, 4 * cores)


def theme() -> gr.themes.Base:
    """Gradio's default theme in blue and slate, with primary buttons dark enough for white text to
    meet WCAG AA contrast (4.5:1; the default blue-500 gives 3.7:1)."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate",
                             font=[gr.themes.LocalFont("Source Sans Pro"), "system-ui", "Segoe UI", "Arial",
                                   "sans-serif"]).set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white", button_primary_text_color_dark="white")
