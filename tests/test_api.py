"""The REST API and restricted papers, over real HTTP on loopback.

The corpus is indexed with one more paper, in a folder whose manifest marks it restricted, holding a
phrase no other paper has. A user with restricted access finds it; a public user gets it from no route
(API search, ask, documents, document by id; the gradio_client endpoints; the search CSV), and the
API refuses missing, wrong and malformed credentials with a JSON 401.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from conftest import CORPUS, free_port

PHRASE = "quillwort lagoon dredging"
SECRET_FILE = "2022-04-01-exempt-report-lagoon.txt"
SECRET_TEXT = ("Exempt report: lagoon works\n\n"
               f"The council agreed in April 2022 to fund the {PHRASE} scheme at a cost of £812,000. "
               "The contract was awarded to a marine works firm after a confidential tender.\n")
SECRET_ID = "exempt-2022-04-lagoon"
SECRET_QUESTION = "How much will the quillwort lagoon dredging scheme cost?"
ALICE, BOB = ("alice", "alice-password-1"), ("bob", "bob-password-22")


@pytest.fixture(scope="module")
def served(tmp_path_factory, encoder, serve_app):
    """(base URL, the Assistant) of an app over the corpus plus a restricted paper, with two users."""
    from assistant.app import Assistant
    from assistant.settings import Settings
    from assistant.users import add_user

    root = tmp_path_factory.mktemp("restricted")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    exempt = corpus / "exempt"
    exempt.mkdir()
    (exempt / SECRET_FILE).write_text(SECRET_TEXT, encoding="utf-8")
    (exempt / "manifest.toml").write_text(
        f'[defaults]\naccess = "restricted"\ncouncil = "Sefton Council"\n\n[documents."{SECRET_FILE}"]\n'
        f'id = "{SECRET_ID}"\ndate = "2022-04-01"\ndoc_type = "report"\n', encoding="utf-8")
    users = root / "users.json"
    add_user(users, *ALICE, restricted=True)
    add_user(users, *BOB)
    assistant = Assistant(Settings.load(env={}, index_dir=root / "index", progress=False, users_file=str(users)),
                          encoder=encoder)
    report = assistant.ingest([corpus])
    assert not report.failed, report.failed
    app = serve_app(assistant)
    return app.local_url.rstrip("/"), assistant, app


def call(url: str, path: str, user: tuple[str, str] | None = ALICE, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **(headers or {})})
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(user).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_health_and_docs(served):
    url, assistant, _ = served
    status, body = call(url, "/api/health")
    assert status == 200 and body["status"] == "ok" and body["build"]
    status, spec = call(url, "/api/openapi.json")
    assert status == 200 and {"/ask", "/search", "/documents", "/documents/{doc_id}"} <= set(spec["paths"])


def test_the_docs_page_loads_its_scripts_from_this_server(served):
    """The machines this runs on may have no internet: Swagger UI must not come from a CDN."""
    url, _, _ = served
    request = urllib.request.Request(url + "/api/docs", headers={
        "Authorization": "Basic " + base64.b64encode(":".join(ALICE).encode()).decode()})
    with urllib.request.urlopen(request, timeout=60) as response:
        page = response.read().decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/api/") for asset in assets), assets
    for asset in assets:
        with urllib.request.urlopen(url + asset, timeout=60) as response:
            assert response.status == 200 and len(response.read()) > 100, asset


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()},
                                     {"Authorization": "Basic not-base64!"}, {"Authorization": "Bearer abc"},
                                     {"Authorization": "Basic " + base64.b64encode(b"nobody:x").decode()}])
def test_missing_wrong_or_malformed_credentials_are_a_json_401(served, headers):
    url, _, _ = served
    for path in ("/api/health", "/api/search?q=budget", "/api/documents", f"/api/documents/{SECRET_ID}"):
        status, body = call(url, path, user=None, headers=headers)
        assert status == 401 and "error" in body, path


def test_search_and_ask_are_exactly_the_cli_json(served):
    url, assistant, _ = served
    status, body = call(url, "/api/search?q=foster%20carers&k=3")
    assert status == 200
    assert body == {"query": "foster carers", "results": [p.to_json() for p in assistant.search("foster carers", k=3)]}
    question = "When was the notice of the Ofsted inspection received?"
    status, body = call(url, "/api/ask", body={"question": question})
    expected = assistant.ask(question).to_json()
    assert status == 200 and set(body) == set(expected)
    assert {k: v for k, v in body.items() if k != "latency_ms"} == {k: v for k, v in expected.items() if k != "latency_ms"}


def test_bad_requests_are_json_4xx(served):
    url, _, _ = served
    assert call(url, "/api/ask", body={"question": ""})[0] == 400
    assert call(url, "/api/ask", body={"question": "x", "surprise": 1})[0] == 400
    assert call(url, "/api/search?q=budget&since=15/03/2022")[0] == 400
    status, body = call(url, "/api/documents/no-such-paper")
    assert status == 404 and "no-such-paper" in body["error"]
    import http.client
    from urllib.parse import urlsplit

    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    connection.putrequest("POST", "/api/ask")
    connection.putheader("Content-Length", "5000000")
    connection.putheader("Authorization", "Basic " + base64.b64encode(":".join(ALICE).encode()).decode())
    connection.endheaders()  # no body byte sent: the answer must come before any is read
    response = connection.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    connection.close()


def test_a_restricted_user_finds_the_restricted_paper(served):
    url, _, _ = served
    _, found = call(url, f"/api/search?q={PHRASE.replace(' ', '%20')}")
    assert found["results"][0]["doc_id"] == SECRET_ID
    _, answer = call(url, "/api/ask", body={"question": SECRET_QUESTION})
    assert answer["answered"] and answer["citations"][0]["doc_id"] == SECRET_ID
    assert call(url, f"/api/documents/{SECRET_ID}")[0] == 200
    assert SECRET_ID in [d["doc_id"] for d in call(url, "/api/documents")[1]["documents"]]


def test_a_public_user_never_receives_the_restricted_paper(served):
    url, _, app = served
    replies = [call(url, f"/api/search?q={PHRASE.replace(' ', '%20')}&k=50", BOB),
               call(url, "/api/search?q=confidential%20tender%20marine%20works&k=50", BOB),
               call(url, "/api/ask", BOB, {"question": SECRET_QUESTION}),
               call(url, "/api/ask", BOB, {"question": "and what did it cost?", "history": [[SECRET_QUESTION, "?"]]}),
               call(url, "/api/documents", BOB)]
    for status, body in replies:
        assert status == 200
        text = json.dumps({k: v for k, v in body.items() if k not in ("query", "question")})  # not the echo
        assert SECRET_ID not in text and "quillwort" not in text and "812,000" not in text
    status, body = call(url, f"/api/documents/{SECRET_ID}", BOB)
    assert status == 404 and body == call(url, "/api/documents/no-such-paper", BOB)[1] | {
        "error": body["error"]}

    from gradio_client import Client

    client = Client(url + "/", auth=BOB, verbose=False)
    seen = [client.predict(PHRASE, 50, api_name="/search"), client.predict(SECRET_QUESTION, api_name="/ask"),
            client.predict(api_name="/documents")]
    seen = [{k: v for k, v in r.items() if k not in ("query", "question")} if isinstance(r, dict) else r for r in seen]
    assert all(SECRET_ID not in json.dumps(r) and "quillwort" not in json.dumps(r) for r in seen)
    with pytest.raises(Exception, match="not in|no indexed document"):
        client.predict(SECRET_ID, api_name="/document")

    as_bob = SimpleNamespace(username="bob", client=None)
    rows, download, passages, _ = app.actions.search_table(PHRASE, 50, None, None, None, request=as_bob)
    value = getattr(download, "value", None)
    path = value.get("path") if isinstance(value, dict) else value
    csv_text = open(path, encoding="utf-8").read() if path else ""
    assert "quillwort" not in csv_text and all(p.meta.doc_id != SECRET_ID for p in passages)
    header, summary, *_ = app.actions.library_view(request=as_bob)
    as_alice = SimpleNamespace(username="alice", client=None)
    assert app.actions.library_view(request=as_alice)[1] != summary


def test_bm25_statistics_of_a_public_search_leave_out_restricted_text(served):
    from assistant.index import Index
    from assistant.types import SearchFilters

    _, assistant, _ = served
    index = Index.open(assistant.settings.index_dir)
    try:
        public = index.store.matching_ids(SearchFilters(public_only=True))
        sparse, mask = index.sparse_for(SearchFilters(public_only=True), public)
        assert mask is None and sorted(sparse.ids.tolist()) == sorted(public.tolist())
        assert len(public) < len(index.sparse.ids)
    finally:
        index.close()


def test_sixteen_threads_get_the_one_user_answers(served):
    url, _, _ = served
    questions = ["When was the notice of the Ofsted inspection received?", "Who chairs the Improvement Board?",
                 "How much extra funding went into children's services in 2021/22?", SECRET_QUESTION]
    alone = {q: call(url, "/api/ask", ALICE, {"question": q})[1] for q in questions}
    results: list = []

    def user(n: int) -> None:
        for q in questions[n % 4:] + questions[:n % 4]:
            results.append((q, call(url, "/api/ask", ALICE, {"question": q})))

    threads = [threading.Thread(target=user, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 64
    strip = lambda body: {k: v for k, v in body.items() if k != "latency_ms"}  # noqa: E731
    assert all(status == 200 and strip(body) == strip(alone[q]) for q, (status, body) in results)


def test_rate_limit_answers_429_past_the_limit(served, serve_app):
    from dataclasses import replace

    from assistant.app import Assistant

    _, assistant, _ = served
    limited = Assistant(replace(assistant.settings, rate_limit=2), encoder=assistant.encoder)
    url = serve_app(limited, port=free_port()).local_url.rstrip("/")
    statuses = [call(url, "/api/ask", BOB, {"question": "Who chairs the Improvement Board?"})[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert call(url, "/api/ask", ALICE, {"question": "Who chairs the Improvement Board?"})[0] == 200
