"""The gate in front of the served app's routes: request bodies bounded, and (with a login) nothing read
or run for a client that has not signed in.

Gradio reads and parses a request body before its own login check answers 401, and a few of its routes
(cancel, heartbeat, stream close, run history) take no login at all. `RequestGuard` is an ASGI middleware
on the app Gradio runs on: it answers before any body byte is read, 401 to a request without a valid
session (only the login page, its assets and the login itself are open) and 413 to a body over the
limit (from Content-Length, or counted as a chunked body streams in). Logged-in users share one
account; their events and sessions are named by random ids that only their own browser is sent.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000  # a question, a filter set and a long chat history fit many times over
MAX_LOGIN_BYTES = 16_384
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATHS = frozenset({"/login", "/login/"})
# What a browser needs before signing in: the page, its assets, and probes that answer "nobody".
PUBLIC_PATHS = frozenset({"/", "/login", "/login/", "/logout", "/favicon.ico", "/robots.txt", "/manifest.json",
                          "/theme.css", "/gradio_api/theme.css", "/gradio_api/user", "/gradio_api/user/",
                          "/gradio_api/token", "/gradio_api/token/", "/gradio_api/app_id", "/gradio_api/app_id/",
                          "/gradio_api/login_check", "/gradio_api/login_check/", "/gradio_api/startup-events",
                          "/pwa_icon"})
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/gradio_api/custom_component/", "/pwa_icon/")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RequestGuard:
    """ASGI middleware: 401 before reading anything from a client without a session (when the app has a
    login), 413 for a body over `max_body_bytes` (MAX_LOGIN_BYTES for the login form)."""

    def __init__(self, app: Callable, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        server, path = scope.get("app"), scope.get("path", "")
        method = scope.get("method", "GET")
        if login_required(server) and not is_public(method, path) and not signed_in(server, scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await refuse(send, 401, "Not authenticated")
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        limit = MAX_LOGIN_BYTES if path in LOGIN_PATHS else self.max_body_bytes
        length = Headers(scope=scope).get("content-length", "").strip()
        if length and not length.isdigit():
            await refuse(send, 400, "Invalid Content-Length")
            return
        if length and int(length) > limit:
            await refuse(send, 413, f"Request body too large: the limit is {limit:,} bytes")
            return
        await self._bounded(scope, receive, send, limit)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app, counting the body as it streams in; past `limit`, answer 413 and tell the app
        the client has gone (whatever it sends after that is dropped)."""
        received, cut_off, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, cut_off
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    if not started:
                        await refuse(send, 413, f"Request body too large: the limit is {limit:,} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def passed(message: Message) -> None:
            nonlocal started
            if cut_off:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, passed)
        except Exception:
            if not cut_off:
                raise
            log.debug("%s: the app stopped on a body cut off at %d bytes", scope.get("path"), limit)


def login_required(server: object) -> bool:
    """Whether the app has Gradio's username/password login (a custom auth dependency is left to Gradio)."""
    return getattr(server, "auth", None) is not None and getattr(server, "auth_dependency", None) is None


def is_public(method: str, path: str) -> bool:
    if method == "POST":
        return path in LOGIN_PATHS
    return method in SAFE_METHODS and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))


def signed_in(server: object, scope: Scope) -> bool:
    """Whether the request carries the session cookie of a login Gradio issued (as its /user route reads it)."""
    cookie_id = getattr(server, "cookie_id", None)
    tokens = getattr(server, "tokens", None) or {}
    cookies = HTTPConnection(scope).cookies
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return token is not None and tokens.get(token) is not None


async def refuse(send: Send, status: int, detail: str) -> None:
    """A JSON error answer that closes the connection, so an unread body is never parsed as a request."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
