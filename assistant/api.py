"""The REST API beside the UI, on the same server: `/api/...`, with its OpenAPI page at `/api/docs`.

Routes answer exactly what the command line prints with `--json` (`ask`, `search`), plus the library
(`/api/documents`) and one paper with its text (`/api/documents/{doc_id}`). Every error is JSON
`{"error": "..."}` with a 4xx code (5xx only for the server's own failures). Request bodies are bounded
before they are read by `serving.RequestGuard`, which sits in front of every route of the server.
Handlers are plain functions run on the server's thread pool: the `Assistant` is thread-safe, so
requests are answered side by side.

With a users file, every route (the docs included) takes HTTP Basic credentials of a user in it
(see `users.py`), and a user without `restricted` access is answered as if restricted papers did not
exist. Without one, the API is open like the UI, and sees everything.
"""
from __future__ import annotations

import base64
import binascii
import logging

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

from .errors import AssistantError, QueryError
from .serving import RateLimit
from .types import DocumentMeta
from .users import Logins, User

log = logging.getLogger(__name__)

PREFIX = "/api"
UNEXPECTED = "Something went wrong on the server; the details are in its log."


EVERYONE = User("", True)  # the viewer when no login is configured
CHALLENGE = {"WWW-Authenticate": 'Basic realm="council-assistant", charset="UTF-8"'}


class ApiError(Exception):
    """An error answered as `{"error": message}` with `status` (and any extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class AskRequest(BaseModel):
    """A question, with the conversation so far for a follow-up, and the filters of `ask`."""

    model_config = {"extra": "forbid"}

    question: str = Field(description="the question (up to 2,000 characters)")
    history: list[list[str]] | None = Field(None, description="earlier turns, oldest first: [[question, answer], ...]")
    since: str | None = Field(None, description="only papers dated on or after (YYYY-MM-DD)")
    until: str | None = Field(None, description="only papers dated on or before (YYYY-MM-DD)")
    types: list[str] | None = Field(None, description="only these document types")
    councils: list[str] | None = Field(None, description="only papers of these councils")


def meta_json(meta: DocumentMeta) -> dict:
    return {"doc_id": meta.doc_id, "title": meta.title, "date": meta.date, "doc_type": meta.doc_type,
            "council": meta.council, "committee": meta.committee, "source": meta.source}


def basic_user(request: Request, logins: Logins) -> User:
    """The user whose HTTP Basic credentials the request carries; ApiError 401 for none, a malformed
    header or wrong credentials (one message for all three: nothing says which names exist)."""
    if not logins.required:
        return EVERYONE
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    user = None
    if scheme.lower() == "basic" and encoded.strip():
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = ""
        name, colon, password = decoded.partition(":")
        if colon:
            user = logins.check(name, password)
    if user is None:
        raise ApiError(401, "sign in with HTTP Basic credentials of a user in the users file", CHALLENGE)
    return user


def build_api(assistant, logins: Logins | None = None, limit: RateLimit | None = None) -> FastAPI:
    """The API app over `assistant`, to mount at PREFIX; `logins` checks HTTP Basic credentials (none:
    open), `limit` bounds the answers a user may ask for in a minute (429 beyond)."""
    logins = logins or Logins()
    limit = limit or RateLimit()
    api = FastAPI(title="Council papers assistant API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Cited answers and passage search over council papers. Errors: "
                              '`{"error": "..."}` with a 4xx status.')

    def viewer(request: Request) -> User:
        return basic_user(request, logins)

    def admit(who: User, request: Request) -> None:
        wait = limit.wait(who.name or (request.client.host if request.client else ""))
        if wait:
            raise ApiError(429, limit.message(wait), {"Retry-After": str(max(1, round(wait)))})

    @api.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                             for e in exc.errors()[:5])
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=400)

    @api.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        status = 400 if isinstance(exc, QueryError) else 503
        return JSONResponse({"error": str(exc)}, status_code=status)

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s", request.url.path, exc_info=exc)
        return JSONResponse({"error": UNEXPECTED}, status_code=500)

    # Swagger UI's scripts come from a PyPI package and are served here, so the docs work offline
    api.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs(who: User = Depends(viewer)) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=PREFIX + "/openapi.json", title=api.title,
                                   swagger_js_url=PREFIX + "/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url=PREFIX + "/docs-assets/swagger-ui.css",
                                   swagger_favicon_url=PREFIX + "/docs-assets/favicon-32x32.png")

    @api.get("/health", summary="The server is up; the index build it serves")
    def health(who: User = Depends(viewer)) -> dict:
        from .app import linked_build

        return {"status": "ok", "build": linked_build(assistant.settings.index_dir) or ""}

    @api.post("/ask", summary="A short cited answer: exactly the object `ask --json` prints")
    def ask(body: AskRequest, request: Request, who: User = Depends(viewer)) -> dict:
        admit(who, request)
        answer = assistant.ask(body.question, since=body.since, until=body.until, doc_types=body.types or (),
                               history=[tuple(turn) for turn in body.history or ()], councils=body.councils or (),
                               restricted=who.restricted)
        return answer.to_json()

    @api.get("/search", summary="Ranked passages: exactly the object `search --json` prints")
    def search(q: str = Query(..., description="the query"), k: int | None = Query(None, ge=1, le=100),
               since: str | None = None, until: str | None = None,
               type: list[str] = Query([], description="document type (repeatable)"),
               council: list[str] = Query([], description="council (repeatable)"),
               who: User = Depends(viewer)) -> dict:
        passages = assistant.search(q, k=k, since=since, until=until, doc_types=type, councils=council,
                                    restricted=who.restricted)
        return {"query": q, "results": [p.to_json() for p in passages]}

    @api.get("/documents", summary="The indexed papers' metadata, newest first, with chunk counts")
    def documents(who: User = Depends(viewer)) -> dict:
        listed = assistant.documents(restricted=who.restricted)
        return {"documents": [{**meta_json(meta), "chunks": chunks} for meta, chunks in listed]}

    @api.get("/documents/{doc_id}", summary="One paper's metadata and cleaned text")
    def document(doc_id: str, who: User = Depends(viewer)) -> dict:
        found = assistant.document(doc_id, restricted=who.restricted)
        if found is None:
            raise ApiError(404, f"no indexed document has the id {doc_id[:80]!r}; /api/documents lists them")
        return {**meta_json(found.meta), "text": found.text, "page_starts": list(found.page_starts)}

    return api


def mount(server_app, api: FastAPI) -> None:
    """Mount the API app at PREFIX on the app the server runs (Gradio's FastAPI app)."""
    server_app.mount(PREFIX, api)
