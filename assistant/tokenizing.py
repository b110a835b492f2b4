"""The one tokenizer: text to stemmed content words, shared by BM25 (sparse.py), the extractive
answerer (evidence.py) and the LLM reply check (llm.py), and saved with each index build.

A word is a run of letters or digits (Unicode aware, so "café" stays one word), lower-cased, with
"’" read as "'"; words of one character and bm25s's English stop words are dropped and the rest are
Snowball-stemmed (PyStemmer). On the eval suites this indexes exactly as bm25s's own `tokenize` did
(same BM25 hit@1 and MRR on every half), so the retrieval model needs no re-fit. Also dropping the
words of a question's form ("what", "which", "did", "papers", "council") from BM25 was measured and
lost: seed dev re-ranked hit@1 83.6% against 85.2%, real-papers dev BM25 hit@1 81.1% against 83.8%.
The answerer and the LLM check drop them (`content_words`): there they would count as words the
answer must share with the question. No council, person or place names.

`Tokenizer` is a small frozen record: `to_json` is what the index build stores (bm25/tokenizer.json
and the manifest's "tokenizer"), and `from_json` rebuilds the exact tokenizer a build was made with,
so a build is always queried as it was indexed, whatever this version's default.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import IndexMismatchError

NAME = "council-assistant-words"
VERSION = 1
WORD_PATTERN = r"[^\W_]+"
QUESTION_WORDS = ("did", "does", "do", "what", "which", "who", "whom", "when", "where", "why", "how", "much",
                  "many", "tell", "say", "said", "papers", "paper", "council")
# bm25s's own tokenize() before this module: its default pattern and English stop words, no extras
LEGACY_BM25S = {"name": "bm25s-default", "version": 1, "pattern": r"(?u)\b\w\w+\b", "stop_words": None,
                "stemmer": "english", "min_length": 2}


@lru_cache(maxsize=8)
def _stemmer(language: str):
    import Stemmer

    return Stemmer.Stemmer(language)


def _bm25s_stop_words() -> tuple[str, ...]:
    from bm25s.stopwords import STOPWORDS_EN

    return tuple(STOPWORDS_EN)


@dataclass(frozen=True)
class Tokenizer:
    """Text to stemmed content words: `pattern` finds words in lower-cased text, words shorter than
    `min_length` or in `stop_words` are dropped, and `stemmer` (a Snowball language, or None) stems
    the rest. Stemming is cached per word, so tokenizing a million passages stems each word once."""

    name: str
    version: int
    pattern: str
    stop_words: frozenset[str]
    stemmer: str | None = "english"
    min_length: int = 2
    _split: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_split", re.compile(self.pattern))

    def words(self, text: str) -> list[str]:
        """The stemmed content words of `text`, in order (repeats kept: BM25 counts them)."""
        stop = self.stop_words
        found = [w for w in self._split.findall(text.lower().replace("’", "'"))
                 if len(w) >= self.min_length and w not in stop]
        return _stemmer(self.stemmer).stemWords(found) if self.stemmer else found

    def many(self, texts: list[str]) -> list[list[str]]:
        """`words` of each text (what BM25 indexes)."""
        return [self.words(t) for t in texts]

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "pattern": self.pattern,
                "stop_words": sorted(self.stop_words), "stemmer": self.stemmer, "min_length": self.min_length}

    @classmethod
    def from_json(cls, data: dict, where: str = "tokenizer") -> "Tokenizer":
        """The tokenizer a build recorded (`stop_words` None: bm25s's English list)."""
        try:
            stop = data["stop_words"]
            return cls(name=str(data["name"]), version=int(data["version"]), pattern=str(data["pattern"]),
                       stop_words=frozenset(_bm25s_stop_words() if stop is None else map(str, stop)),
                       stemmer=data.get("stemmer"), min_length=int(data.get("min_length", 2)))
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise IndexMismatchError(f"{where}: not a tokenizer record ({exc}); rebuild the index with "
                                     "`council-assistant ingest --rebuild`") from exc


@lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    """This version's tokenizer (what new builds index with and the answerer reads questions with)."""
    return Tokenizer(name=NAME, version=VERSION, pattern=WORD_PATTERN,
                     stop_words=frozenset(_bm25s_stop_words()))


def legacy_tokenizer() -> Tokenizer:
    """The tokenizer of builds made before tokenizers were recorded (bm25s's defaults)."""
    return Tokenizer.from_json(LEGACY_BM25S)


@lru_cache(maxsize=1)
def _question_stems() -> frozenset[str]:
    return frozenset(default_tokenizer().words(" ".join(QUESTION_WORDS)))


def content_words(text: str) -> list[str]:
    """The default tokenizer's stemmed words of `text` without the words of a question's form
    (QUESTION_WORDS), in order: what the answerer and the LLM check compare."""
    form = _question_stems()
    return [w for w in default_tokenizer().words(text) if w not in form]


@lru_cache(maxsize=65_536)
def word_set(text: str) -> frozenset[str]:
    """The set of `content_words(text)`, cached (the answerer asks for the same sentences many times)."""
    return frozenset(content_words(text))
