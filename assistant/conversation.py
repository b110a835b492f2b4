"""Follow-up questions resolved against the conversation before retrieval, without an LLM.

"and when did she start?" or "what about fostering?" says little on its own. When a message looks
like a follow-up (it opens with "and", "what about", ..., leans on a pronoun, or is very short), the
search query becomes the message plus, marked as context, the previous question and the names in
the previous answer. A message that stands on its own is searched as it is. An LLM, when configured, condenses
instead (see llm.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .evidence import NAME
from .types import Query

_OPENERS = re.compile(r"^\W*(and|but|also|so|then|what about|how about|and what about|same for|what of|"
                      r"is that|was that|did (he|she|they|it)|does (he|she|it))\b", re.IGNORECASE)
_PRONOUNS = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|it|its|this|that|these|those|there|then)\b",
                       re.IGNORECASE)
SHORT_WORDS = 4
# the previous turn's question and answer are read up to this many characters each, which bounds the
# query a follow-up becomes whatever the history holds
CONTEXT_CHARS = 2_000


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user asked and what the assistant answered."""

    question: str
    answer: str = ""


def turns(history: Iterable) -> list[Turn]:
    """Turns from a chat history given as Turn objects, (question, answer) pairs, or role/content
    messages (the OpenAI and Gradio "messages" format)."""
    out: list[Turn] = []
    pending: str | None = None
    for item in history or ():
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, dict):
            role, content = item.get("role"), _text(item.get("content"))
            if role == "user":
                if pending is not None:
                    out.append(Turn(pending))
                pending = content
            elif role == "assistant" and pending is not None:
                out.append(Turn(pending, content))
                pending = None
        else:
            question, answer = (list(item) + [""])[:2]
            out.append(Turn(_text(question), _text(answer)))
    if pending is not None:
        out.append(Turn(pending))
    return [t for t in out if t.question]


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(part.get("text") if isinstance(part, dict) else part) for part in content)
    return str(content)


def is_followup(message: str) -> bool:
    words = message.split()
    return bool(_OPENERS.search(message) or _PRONOUNS.search(message) or len(words) <= SHORT_WORDS)


def resolve_followup(history: Iterable, message: str) -> Query:
    """The query to search for `message`, given the conversation so far (see the module docstring)."""
    previous = turns(history)
    if not previous or not is_followup(message):
        return Query(message)
    last = previous[-1]
    asked = last.question[:CONTEXT_CHARS]
    answer = re.sub(r"\[\d+\]", " ", last.answer[:CONTEXT_CHARS])
    names = [n for n in dict.fromkeys(m.group(0) for m in NAME.finditer(answer)) if n not in asked][:4]
    return Query(message, " ".join([asked, *names]))
