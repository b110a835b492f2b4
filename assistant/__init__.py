"""council-assistant: cited answers and passage search over local-council papers."""
from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Assistant":
        from .app import Assistant

        return Assistant
    raise AttributeError(name)
