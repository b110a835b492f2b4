from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedder():
    from assistant.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


@pytest.fixture
def make_settings(tmp_path):
    from assistant.settings import Settings

    def make(**overrides):
        return Settings.load(env={}, index_dir=tmp_path / "index", progress=False, **overrides)

    return make


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory, embedder):
    """An Assistant over an index of the real corpus, built once per session."""
    from assistant.app import Assistant
    from assistant.settings import Settings

    index_dir = tmp_path_factory.mktemp("corpus-index")
    assistant = Assistant(Settings.load(env={}, index_dir=index_dir, progress=False))
    assistant.embedder = embedder
    report = assistant.ingest([CORPUS])
    assert not report.failed, report.failed
    return assistant


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
