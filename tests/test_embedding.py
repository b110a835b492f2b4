from __future__ import annotations

import numpy as np
import pytest

from conftest import HashEncoder


class HashBackend:
    """A runtime stand-in for the Embedder's own logic (prompts, caches, chunk means): HashEncoder's vectors."""

    dimension = HashEncoder.dimension

    def __init__(self) -> None:
        self.fake = HashEncoder()
        self.seen: list[str] = []

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        self.seen.extend(texts)
        return self.fake.embed_passages(texts)


@pytest.fixture
def light_embedder():
    """The real Embedder class on a hashed runtime: no model is loaded."""
    from assistant.embedding import Embedder

    embedder = Embedder("all-MiniLM-L6-v2")
    embedder._backend = HashBackend()
    return embedder


def test_query_vectors_are_cached_read_only_and_equal_to_fresh_ones(light_embedder):
    embedder = light_embedder
    embedder.clear_query_cache()
    first = embedder.embed_query("Who attends the Improvement Board?")
    assert embedder.embed_query("Who attends the Improvement Board?") is first
    np.testing.assert_allclose(first, embedder.embed_passages(["Who attends the Improvement Board?"])[0], atol=1e-6)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        first[0] = 1.0
    embedder.clear_query_cache()
    assert embedder.embed_query("Who attends the Improvement Board?") is not first


def test_query_cache_forgets_the_least_recently_used_beyond_its_size(light_embedder, monkeypatch):
    embedder = light_embedder
    monkeypatch.setattr(embedder._queries, "size", 2)
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


def test_chunk_vectors_are_the_mean_of_their_sentences_each_encoded_once(light_embedder, monkeypatch):
    from assistant.types import Chunk

    embedder = light_embedder
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
    assert sentence_vectors[2] is None and sentence_vectors[0].shape == (2, embedder.dimension)
    np.testing.assert_allclose(sentence_vectors[0][1], sentence_vectors[1][0])
    mean = sentence_vectors[1].mean(axis=0)
    np.testing.assert_allclose(chunk_vectors[1], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(chunk_vectors[2], original(["a heading without sentences"])[0], atol=1e-6)


@pytest.mark.slow
def test_onnx_runtime_gives_the_same_vectors_rankings_and_answers_as_torch(corpus_assistant_real, tmp_path):
    """The query path's ONNX Runtime encoder must be a drop-in for sentence-transformers on torch."""
    import json
    from dataclasses import replace

    from assistant.app import Assistant
    from assistant.embedding import Embedder, OnnxEncoder, TorchEncoder

    from conftest import ROOT

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").open()]
    torch_embedder = Embedder("all-MiniLM-L6-v2", runtime="torch", cache_dir=tmp_path)
    onnx_embedder = Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=tmp_path)
    assert isinstance(onnx_embedder.backend, OnnxEncoder) and onnx_embedder.onnx_path.is_file()
    assert isinstance(torch_embedder.backend, TorchEncoder)
    np.testing.assert_allclose(onnx_embedder.embed_passages(questions), torch_embedder.embed_passages(questions),
                               atol=1e-5)
    assert Embedder("all-MiniLM-L6-v2", runtime="auto", cache_dir=tmp_path).runtime_in_use == "onnx"
    assert Embedder("all-MiniLM-L6-v2", runtime="auto", cache_dir=tmp_path / "none").runtime_in_use == "torch"

    on_onnx = Assistant(replace(corpus_assistant_real.settings, encoder_runtime="onnx"), encoder=onnx_embedder)
    for question in questions:
        expected = corpus_assistant_real.search(question, k=10)
        got = on_onnx.search(question, k=10)
        assert [(p.meta.doc_id, p.chunk.ord) for p in got] == [(p.meta.doc_id, p.chunk.ord) for p in expected]
        assert corpus_assistant_real.ask(question).text == on_onnx.ask(question).text


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


# --- the injectable encoder, prompts and precision in the manifest --------------------------------

class Int8HashEncoder(HashEncoder):
    """The fake encoder, claiming the other precision (its vectors are the same; only the record differs)."""

    precision = "int8"


def test_an_injected_encoder_builds_and_answers_and_the_manifest_records_it(make_settings, corpus_copy, encoder):
    from assistant.app import Assistant
    from assistant.index import current_build, read_manifest

    assistant = Assistant(make_settings(), encoder=encoder)
    report = assistant.ingest([corpus_copy])
    assert len(report.added) == 5 and not report.failed
    manifest = read_manifest(current_build(assistant.settings.index_dir))
    assert manifest["embedding_model"] == "test/hash-encoder"
    assert manifest["encoder"] == {"model": "test/hash-encoder", "dimension": 256, "precision": "fp32",
                                   "query_prompt": "", "document_prompt": ""}
    info = assistant.info()
    assert (info["build"], info["documents"], info["chunks"]) == (manifest_build(assistant), 5, manifest["chunks"])
    assert info["encoder"]["precision"] == "fp32" and info["embedding_model"] == "test/hash-encoder"
    assert assistant.search("Improvement Board", k=3)


def manifest_build(assistant) -> str:
    from assistant.index import current_build

    return current_build(assistant.settings.index_dir).name


def test_an_injected_answerer_answers(make_settings, corpus_copy, encoder):
    from dataclasses import replace

    from assistant.app import Assistant
    from assistant.answering import ExtractiveAnswerer

    class Fixed(ExtractiveAnswerer):
        def answer(self, question, passages):
            return replace(super().answer(question, passages), text=f"fixed: {len(passages)} passages")

    answerer = Fixed(encoder.embed_passages, embed_query=encoder.embed_query)
    assistant = Assistant(make_settings(answer_passages=4), encoder=encoder, answerer=answerer)
    assistant.ingest([corpus_copy])
    assert assistant.answerer is answerer
    assert assistant.ask("Who attends the Improvement Board?").text == "fixed: 4 passages"


def test_an_index_built_in_one_precision_is_refused_in_the_other(make_settings, corpus_copy, encoder):
    from assistant.app import Assistant
    from assistant.errors import IndexMismatchError

    Assistant(make_settings(), encoder=encoder).ingest([corpus_copy])
    other = Assistant(make_settings(encoder_precision="int8"), encoder=Int8HashEncoder())
    with pytest.raises(IndexMismatchError, match="built with encoder_precision='fp32' but the settings say 'int8'"):
        other.search("Improvement Board")
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        other.ingest([corpus_copy])
    assert other.ingest([corpus_copy], rebuild=True).added
    assert other.info()["encoder"]["precision"] == "int8" and other.search("Improvement Board", k=1)
    with pytest.raises(IndexMismatchError, match="built with encoder_precision='int8' but the settings say 'fp32'"):
        Assistant(make_settings(), encoder=encoder).search("Improvement Board")


def test_an_index_from_before_the_precision_was_recorded_reads_as_fp32(make_settings, corpus_copy, encoder):
    import json

    from assistant.app import Assistant
    from assistant.errors import IndexMismatchError
    from assistant.index import current_build

    Assistant(make_settings(), encoder=encoder).ingest([corpus_copy])
    path = current_build(make_settings().index_dir) / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["encoder"]
    path.write_text(json.dumps(manifest))
    assert Assistant(make_settings(), encoder=encoder).search("Improvement Board", k=1)
    with pytest.raises(IndexMismatchError, match="encoder_precision='fp32'"):
        Assistant(make_settings(), encoder=Int8HashEncoder()).search("Improvement Board")


def test_query_and_document_prompts_come_from_the_model_and_are_applied(tmp_path):
    import json
    import shutil

    from assistant.embedding import Embedder, model_prompts, resolve_model

    packaged = resolve_model("all-MiniLM-L6-v2")[1]
    assert model_prompts(packaged) == ("", "")
    folder = tmp_path / "asymmetric"
    shutil.copytree(packaged, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None}))
    embedder = Embedder(str(folder))
    embedder._backend = backend = HashBackend()
    embedder.embed_query("Who chairs the board?")
    embedder.embed_passages(["The board met."])
    assert backend.seen == ["query: Who chairs the board?", "passage: The board met."]
    assert embedder.record() == {"model": "asymmetric", "dimension": HashBackend.dimension, "precision": "fp32",
                                 "query_prompt": "query: ", "document_prompt": "passage: "}


def test_int8_is_refused_on_torch_and_an_unknown_precision_is_named(tmp_path):
    from assistant.embedding import Embedder
    from assistant.errors import SettingsError

    with pytest.raises(SettingsError, match="encoder_precision='int8' runs on ONNX Runtime only"):
        Embedder("all-MiniLM-L6-v2", runtime="torch", cache_dir=tmp_path, precision="int8")
    with pytest.raises(SettingsError, match="encoder_precision='fp16': choose one of fp32, int8"):
        Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path, precision="fp16")


@pytest.mark.slow
def test_int8_vectors_are_close_to_fp32_on_real_texts(tmp_path):
    """The quantized export (made on first use from the fp32 one) keeps every sentence of the corpus
    close to its fp32 vector, and is a file of its own beside the fp32 export."""
    from assistant.embedding import Embedder, OnnxEncoder

    from conftest import CORPUS

    texts = [s.strip() for path in sorted(CORPUS.glob("*.txt"))
             for s in path.read_text(encoding="utf-8").replace("\n", " ").split(". ") if len(s.split()) >= 4]
    assert len(texts) >= 40
    fp32 = Embedder("all-MiniLM-L6-v2", runtime="onnx", cache_dir=tmp_path)
    int8 = Embedder("all-MiniLM-L6-v2", cache_dir=tmp_path, precision="int8")
    assert isinstance(int8.backend, OnnxEncoder) and int8.onnx_path != fp32.onnx_path
    assert int8.onnx_path.is_file() and int8.onnx_path.stat().st_size < fp32.onnx_path.stat().st_size / 2
    cosines = (fp32.embed_passages(texts) * int8.embed_passages(texts)).sum(axis=1)
    assert cosines.min() > 0.95, (cosines.min(), texts[int(cosines.argmin())])
    assert int8.record()["precision"] == "int8"


@pytest.mark.slow
def test_queries_and_ingest_follow_the_precision_the_index_was_built_with(make_settings, tmp_path, caplog):
    """An index built in fp32 is read (and added to) in fp32 when the settings say int8, with a log line,
    so a change of the default precision never breaks an index built before it; a rebuild takes the
    settings' precision, and an int8 index is then read in int8 by settings saying fp32."""
    import logging
    import shutil

    from assistant.app import Assistant
    from assistant.index import current_build, read_manifest

    from conftest import CORPUS

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = sorted(p.name for p in CORPUS.glob("*.txt"))
    for name in names[:2]:
        shutil.copy(CORPUS / name, corpus / name)
    query = "Who was appointed as the government commissioner?"
    built = Assistant(make_settings(encoder_precision="fp32"))
    built.ingest([corpus])
    expected = [((p.chunk.doc_id, p.chunk.ord), p.score) for p in built.ranking(query, 5, "dense")]

    with caplog.at_level(logging.INFO, logger="assistant.app"):
        int8_settings = Assistant(make_settings(encoder_precision="int8"))
        dense = int8_settings.ranking(query, 5, "dense")
    assert int8_settings.encoder.precision == "fp32" and int8_settings.search(query, k=3)
    assert [(p.chunk.doc_id, p.chunk.ord) for p in dense] == [c for c, _ in expected]
    assert [p.score for p in dense] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert "built with encoder_precision='fp32', so queries are encoded at 'fp32' although the settings " \
           "say 'int8'" in caplog.text

    shutil.copy(CORPUS / names[2], corpus / names[2])
    added = Assistant(make_settings(encoder_precision="int8")).ingest([corpus])
    assert len(added.added) == 1 and len(added.unchanged) == 2 and not added.failed
    index_dir = make_settings().index_dir
    assert read_manifest(current_build(index_dir))["encoder"]["precision"] == "fp32"

    rebuilt = Assistant(make_settings(encoder_precision="int8"))
    assert len(rebuilt.ingest([corpus], rebuild=True).added) == 3
    assert read_manifest(current_build(index_dir))["encoder"]["precision"] == "int8"
    assert rebuilt.search(query, k=1) and rebuilt.encoder.precision == "int8"
    fp32_settings = Assistant(make_settings(encoder_precision="fp32"))
    assert fp32_settings.search(query, k=1) and fp32_settings.encoder.precision == "int8"


def test_the_onnx_session_plans_no_memory_pattern_and_encodes_batches_of_every_length(tmp_path):
    """Sorted batches come in many shapes; ONNX Runtime's memory pattern (one planned block per shape)
    made ingest's memory grow with them, so the session is made without it."""
    import onnx
    from onnx import TensorProto, helper

    from assistant.embedding import OnnxEncoder, resolve_model

    _, location = resolve_model("all-MiniLM-L6-v2")
    table = np.random.default_rng(0).standard_normal((31000, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["gathered"]),
         helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
         helper.make_node("Unsqueeze", ["mask", "axis"], ["mask3"]),
         helper.make_node("Mul", ["gathered", "mask3"], ["token_embeddings"])],
        "tokens",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
         for name in ("input_ids", "attention_mask", "token_type_ids")],
        [helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "sequence", 8])],
        [helper.make_tensor("table", TensorProto.FLOAT, table.shape, table.ravel()),
         helper.make_tensor("axis", TensorProto.INT64, [1], [-1])])
    path = tmp_path / "tokens.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    encoder = OnnxEncoder(location, path)
    assert encoder.session.get_session_options().enable_mem_pattern is False
    texts = [" ".join(["council"] * n) for n in range(1, 60)]
    vectors = encoder.encode(texts, 4, False)
    assert vectors.shape == (len(texts), 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_ingest_encodes_a_sentence_met_again_in_a_later_batch_once(light_embedder, tmp_path):
    """Generated papers share standard sentences across batches: each distinct text is encoded once,
    and the index holds the vectors it would hold had every batch encoded all its texts."""
    from assistant.chunkstore import ChunkStore
    from assistant.embedding import Embedder
    from assistant.index import current_build
    from assistant.ingest import ingest
    from assistant.settings import Settings
    from assistant.vectors import FaissVectors
    from test_synthetic import _load_bench_module

    _load_bench_module("synthetic").write_corpus(tmp_path / "papers", 12, seed=3)
    built = {}
    for name, remember in (("remembering", True), ("every batch", False)):
        embedder = Embedder("all-MiniLM-L6-v2")
        embedder._backend = backend = HashBackend()
        if not remember:
            embedder.remembering = None
        settings = Settings.load(env={}, index_dir=tmp_path / name, progress=False, ingest_batch_chunks=16)
        assert len(ingest([tmp_path / "papers"], settings, embedder).added) == 12
        build = current_build(settings.index_dir)
        store = ChunkStore.open(build, readonly=True)
        try:
            rows = store.chunks(store.chunk_ids().tolist())
        finally:
            store.close()
        sentences = [c.text[s:e] for c, *_ in rows.values() for s, e in c.sentences]
        ids, vectors = FaissVectors.load(build).contents()
        built[name] = backend.seen, set(sentences), dict(zip(ids.tolist(), vectors))
    seen, distinct, vectors = built["remembering"]
    every_seen, _, every_vectors = built["every batch"]
    assert len(seen) == len(set(seen)) == len(distinct) < len(every_seen)
    assert vectors.keys() == every_vectors.keys()
    assert all(np.allclose(vectors[i], every_vectors[i], atol=1e-6) for i in vectors)
