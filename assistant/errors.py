"""Typed errors. Each message names the file or field at fault and says what to do."""
from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error the assistant reports to a user."""


class SettingsError(AssistantError):
    """A setting is missing or malformed."""


class CorpusError(AssistantError):
    """A source file or its metadata cannot be read; the message starts with the file name."""


class ExtractionUnavailableError(CorpusError):
    """A file could not be tried (the extraction worker did not start); not a fault of the file, so
    ingest does not remember it as a failure."""


class IndexNotFoundError(AssistantError):
    """No index has been built yet in the configured folder."""


class IndexMismatchError(AssistantError):
    """The index on disk was built with other settings (e.g. another embedding model)."""


class IndexDamagedError(AssistantError):
    """A file of the index build cannot be read; the message names it."""


class QueryError(AssistantError):
    """A question or query that cannot be searched as given."""


class SiteError(AssistantError):
    """A council's web site cannot be imported from as asked; the message names the site and what to try."""


class PageError(AssistantError):
    """An original page cannot be shown (not a PDF, its file gone or outside the indexed folders, no such
    page, unreadable)."""


class FeedbackError(AssistantError):
    """The feedback store cannot be read or written; the message names its file."""
