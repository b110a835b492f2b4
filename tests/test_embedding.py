from __future__ import annotations

import numpy as np
import pytest



@pytest.mark.slow
def test_query_vectors_are_cached_read_only_and_equal_to_fresh_ones(embedder):
    embedder.clear_query_cache()
    first = embedder.embed_query("Who attends the Improvement Board?")
    assert embedder.embed_query("Who attends the Improvement Board?") is first
    np.testing.assert_allclose(first, embedder.embed_passages(["Who attends the Improvement Board?"])[0], atol=1e-6)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        first[0] = 1.0
    embedder.clear_query_cache()
    assert embedder.embed_query("Who attends the Improvement Board?") is not first


@pytest.mark.slow
def test_query_cache_forgets_the_least_recently_used_beyond_its_size(embedder, monkeypatch):
    from assistant import embedding

    monkeypatch.setattr(embedding, "QUERY_CACHE", 2)
    embedder.clear_query_cache()
    first, second = embedder.embed_query("first question"), embedder.embed_query("second question")
    assert embedder.embed_query("first question") is first
    embedder.embed_query("third question")
    assert embedder.embed_query("first question") is first
    assert embedder.embed_query("second question") is not second


def test_unknown_runtime_is_a_clear_error():
    from assistant.embedding import Embedder
    from assistant.errors import SettingsError

    with pytest.raises(SettingsError, match="encoder_runtime='cuda'"):
        Embedder("all-MiniLM-L6-v2", runtime="cuda")


@pytest.mark.slow
def test_chunk_vectors_are_the_mean_of_their_sentences_each_encoded_once(embedder, monkeypatch):
    from assistant.types import Chunk

    text = "The board met in May. It agreed a plan. Ofsted will return in the autumn."
    first = Chunk("d", 0, text[:39], 0, 39, sentences=((0, 21), (22, 39)))
    second = Chunk("d", 1, text[22:], 22, len(text), sentences=((0, 17), (18, len(text) - 22)))
    assert [first.text[s:e] for s, e in first.sentences][1] == [second.text[s:e] for s, e in second.sentences][0]
    whole = Chunk("e", 0, "a heading without sentences", 0, 27)
    encoded: list[str] = []
    original = embedder.embed_passages
    monkeypatch.setattr(embedder, "embed_passages", lambda texts, progress=False: encoded.extend(texts) or original(texts))
    chunk_vectors, sentence_vectors = embedder.embed_chunks([first, second, whole])
    assert sorted(encoded) == sorted(["The board met in May.", "It agreed a plan.",
                                      "Ofsted will return in the autumn.", "a heading without sentences"])
    assert sentence_vectors[2] is None and sentence_vectors[0].shape == (2, 384)
    np.testing.assert_allclose(sentence_vectors[0][1], sentence_vectors[1][0])
    mean = sentence_vectors[1].mean(axis=0)
    np.testing.assert_allclose(chunk_vectors[1], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(chunk_vectors[2], original(["a heading without sentences"])[0], atol=1e-6)


@pytest.mark.slow
def test_onnx_runtime_gives_the_same_vectors_rankings_and_answers_as_torch(corpus_assistant, tmp_path):
    """The query path's ONNX Runtime encoder must be a drop-in for sentence-transformers on torch."""
    import json
    from dataclasses import replace

    from assistant.app import Assistant
    from assistant.embedding import Embedder, OnnxEncoder, TorchEncoder

    from conftest import ROOT

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()]
    torch_embedder = Embedder("all-MiniLM-L6-v2", runtime="torch", cache_dir=tmp_path)
    onnx_embedder = Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=tmp_path)
    assert isinstance(onnx_embedder.encoder, OnnxEncoder) and onnx_embedder.onnx_path.is_file()
    assert isinstance(torch_embedder.encoder, TorchEncoder)
    np.testing.assert_allclose(onnx_embedder.embed_passages(questions), torch_embedder.embed_passages(questions),
                               atol=1e-5)
    assert Embedder("all-MiniLM-L6-v2", runtime="auto", cache_dir=tmp_path).runtime_in_use == "onnx"
    assert Embedder("all-MiniLM-L6-v2", runtime="auto", cache_dir=tmp_path / "none").runtime_in_use == "torch"

    on_onnx = Assistant(replace(corpus_assistant.settings, encoder_runtime="onnx"))
    on_onnx.embedder = onnx_embedder
    for question in questions:
        expected = corpus_assistant.search(question, k=10)
        got = on_onnx.search(question, k=10)
        assert [(p.meta.doc_id, p.chunk.ord) for p in got] == [(p.meta.doc_id, p.chunk.ord) for p in expected]
        assert corpus_assistant.ask(question).text == on_onnx.ask(question).text


@pytest.mark.slow
def test_an_export_killed_by_sigkill_is_redone_by_the_next_ingest_and_its_partial_file_removed(tmp_path):
    """SIGKILL lands after the first ingest published its build but before the ONNX export was renamed
    into place; the next ingest, with nothing to index, makes the export and removes the partial file."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from assistant.app import Assistant
    from assistant.embedding import Embedder
    from assistant.index import CURRENT, MODELS
    from assistant.settings import Settings

    from conftest import CORPUS, ROOT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in sorted(p.name for p in CORPUS.glob("*.txt"))[:2]:
        shutil.copy(CORPUS / name, corpus / name)
    index_dir = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_ASSISTANT_")}
    process = subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(index_dir), "ingest", str(corpus)],
                               cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (index_dir / CURRENT).is_symlink() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    stderr = process.communicate(timeout=60)[1].decode("utf-8", "replace")
    assert process.returncode == -signal.SIGKILL, f"the ingest ended before the kill: {stderr}"
    assert (index_dir / CURRENT).is_symlink(), "killed after publishing"

    settings = Settings.load(env={}, index_dir=index_dir, progress=False)
    export = Embedder(settings.embedding_model, cache_dir=index_dir / MODELS).onnx_path
    if export.is_file():
        pytest.skip("the export finished before the kill could land")
    partial = export.with_name(f".{export.name}.{process.pid}.tmp")  # the name export_onnx writes to
    if not partial.exists():  # killed before the export began writing: leave what a later kill would
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"\x08\x07\x12\x07pytorch" + b"\x00" * 4096)
    assert Embedder(settings.embedding_model, cache_dir=index_dir / MODELS).runtime_in_use == "torch"

    report = Assistant(settings).ingest([corpus])
    assert not (report.added or report.updated or report.removed or report.failed) and len(report.unchanged) == 2
    assert export.is_file() and not partial.exists()
    assert sorted(p.name for p in export.parent.iterdir()) == [export.name]
    assert Embedder(settings.embedding_model, cache_dir=index_dir / MODELS).runtime_in_use == "onnx"
