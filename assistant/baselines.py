"""The baselines the eval suite compares the product with, on the same questions and embedding model.

- `bm25`: BM25 alone over the product's own index and chunks (no dense search, no fusion).
- `dense`: the product's FAISS vectors alone (no BM25, no fusion).
- `llama-index`: llama-index's default pipeline, `VectorStoreIndex.from_documents` over the papers'
  cleaned text with default chunking and `HuggingFaceEmbedding` of the same model; retrieval only,
  no LLM (its default query engine reads `similarity_top_k=2` passages).
None has an answerer: the eval suite takes the text of the top `ANSWER_PASSAGES` passages as the answer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .embedding import resolve_model

if TYPE_CHECKING:
    from .app import Assistant
    from .types import Document

log = logging.getLogger(__name__)

ANSWER_PASSAGES = 2


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: its document and text."""

    doc_id: str
    text: str


class Baseline(Protocol):
    """A retriever without an answerer."""

    name: str

    def retrieve(self, query: str, k: int) -> list[Hit]: ...


class RetrieverBaseline:
    """One of the product's two retrievers alone over its index (`Assistant.ranking`): BM25 over title
    plus chunk text as the product indexes them ("bm25"), or cosine similarity over the product's chunk
    vectors ("dense")."""

    def __init__(self, assistant: Assistant, name: str) -> None:
        self.assistant = assistant
        self.name = name

    def retrieve(self, query: str, k: int) -> list[Hit]:
        return [Hit(doc_id=p.meta.doc_id, text=p.chunk.text) for p in self.assistant.ranking(query, k, self.name)]


class LlamaIndexBaseline:
    """llama-index's defaults: SentenceSplitter(1024 tokens, overlap 200), in-memory vector store.

    Built in memory at construction (embeds the corpus again; seconds for a small corpus).
    """

    name = "llama-index"

    def __init__(self, documents: list[Document], model_path: str) -> None:
        from llama_index.core import Document as LlamaDocument
        from llama_index.core import Settings, VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        Settings.llm = MockLLM()  # what `Settings.llm = None` sets, without its message on stdout
        embed_model = HuggingFaceEmbedding(model_name=model_path, device="cpu")
        self.index = VectorStoreIndex.from_documents(
            [LlamaDocument(text=d.text, id_=d.doc_id, metadata={"doc_id": d.doc_id, "title": d.meta.title})
             for d in documents],
            embed_model=embed_model)
        log.info("llama-index baseline: %d documents, %d nodes", len(documents), len(self.index.docstore.docs))

    def retrieve(self, query: str, k: int) -> list[Hit]:
        nodes = self.index.as_retriever(similarity_top_k=k).retrieve(query)
        return [Hit(doc_id=n.node.metadata["doc_id"], text=n.node.get_content()) for n in nodes]


NAMES = ("bm25", "dense", "llama-index")


def build_baselines(assistant: Assistant, names: set[str] | None = None) -> list[Baseline]:
    """The baselines named (default all three) over the assistant's index and its documents; the
    llama-index one embeds with the model of the assistant's settings (the one its index was built
    with: `Assistant` refuses an index of another model). `llama-index` embeds the whole corpus again:
    minutes for a large one."""
    names = set(NAMES) if names is None else names
    out: list[Baseline] = [RetrieverBaseline(assistant, name) for name in ("bm25", "dense") if name in names]
    if "llama-index" in names:
        documents = [d for meta, _ in assistant.documents() if (d := assistant.document(meta.doc_id)) is not None]
        out.append(LlamaIndexBaseline(documents, resolve_model(assistant.settings.embedding_model)[1]))
    return out
