"""One settings object, read once from `council-assistant.toml` and `COUNCIL_ASSISTANT_*` variables.

Precedence: explicit overrides > environment > settings file > defaults. Every field carries its bounds
(pydantic validates them, in `Settings.__post_init__`, however the object is made: `load`, the
constructor or `dataclasses.replace`), and a bad value is a `SettingsError` naming the field and where
the value came from (the settings file, the environment variable or the caller).

This module is the only reader of the process environment: secrets are read at the moment of use by
`Settings.secret` (never kept on the object), and the variables libraries read at start are set by
`prepare_libraries`.

Settings stays a frozen dataclass with flat names (`settings.chunk_words`), grouped by section below,
rather than a pydantic-settings model with nested groups: callers copy it with `dataclasses.replace`
(which validates again here, where a pydantic model's `model_copy` would not), and the sources are read
by hand so that an error can say which file or variable held the bad value.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import ConfigDict, Field, ValidationError, create_model

from .errors import SettingsError

ENV_PREFIX = "COUNCIL_ASSISTANT_"
SETTINGS_FILE = "council-assistant.toml"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MILVUS_URI = "http://127.0.0.1:19530"

# Patterns a text setting must match as a whole, and what each asks for, said to the person whose
# value did not match.
_ONE_LINE = r"[^\r\n]+"
_VARIABLE = r"[A-Za-z_][A-Za-z0-9_]*"
_HOST = r"[^\s/]+"
_URL = r"https?://\S+"
_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,200}"
_ADDRESS = r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+"
_EMAILS = rf"\s*{_ADDRESS}\s*([;,]\s*{_ADDRESS}\s*)*[;,]?\s*"
_CONTACT = rf"{_ADDRESS}|https?://[^\s<>]+"
_PATTERN_HINTS = {
    _ONE_LINE: "give a value on one line",
    _VARIABLE: "give the name of an environment variable (letters, digits and underscores)",
    _HOST: "give a host name or address, without spaces",
    _URL: "give a web address (http://host:port/...)",
    _NAME: "use letters, digits and underscores, starting with a letter or underscore",
    _EMAILS: "give e-mail addresses (name@example.org), several separated by ';'",
    _CONTACT: "give an e-mail address (name@example.org) or a web address (https://...), on one line",
}

# The secrets `Settings.secret` reads, each from the environment variable a setting names.
SECRETS = {"llm_api_key": "llm_api_key_env", "milvus_token": "milvus_token_env",
           "smtp_password": "smtp_password_env"}


def _setting(default: Any, description: str, **bounds: Any) -> Any:
    """A settings field: its default, what it means (the README table says the same) and its bounds."""
    return dataclasses.field(default=default, repr=not bounds.pop("hidden", False),
                             metadata={"description": description, "bounds": bounds})


@dataclass(frozen=True)
class Settings:
    # -- where things live ---------------------------------------------------------------------
    corpus_dir: Path = _setting(Path("corpus"), "the folder of papers ingest reads")
    index_dir: Path = _setting(Path("index"), "the folder of index builds")

    # -- embedding and chunking ----------------------------------------------------------------
    embedding_model: str = _setting(DEFAULT_MODEL, "the packaged model, or a local sentence-transformers folder",
                               pattern=_ONE_LINE)
    embed_batch_size: int = _setting(32, "texts the encoder embeds at once (32: measured, bench/results/quick.json "
        "ingest.batching)", ge=1, le=4096)
    ingest_batch_chunks: int = _setting(
        2048, "chunks ingest embeds and writes at a time; a killed first ingest resumes after the last "
        "batch written", ge=1, le=1_000_000)
    encoder_runtime: Literal["auto", "onnx", "torch"] = _setting(
        "auto", "ONNX Runtime when ingest has exported the model (fast start), else torch; or onnx, torch")
    encoder_precision: Literal["fp32", "int8"] = _setting(
        "fp32", "int8: the ONNX export quantized (ONNX Runtime only); for a new index or a rebuild: the "
        "index records the precision that built it, and is queried and updated at that precision")
    chunk_words: int = _setting(90, "words a chunk aims at", ge=10, le=2000)
    chunk_overlap_sentences: int = _setting(1, "sentences a chunk repeats from the one before", ge=0, le=20)

    # -- search --------------------------------------------------------------------------------
    top_k: int = _setting(5, "search results", ge=1, le=1000)
    candidates: int = _setting(50, "candidates each retriever passes to the fusion", ge=1, le=10_000)
    rrf_k: int = _setting(60, "the reciprocal-rank fusion constant", ge=0, le=10_000)
    sparse_weight: float = _setting(2.0, "weight of the BM25 ranking against the dense one", ge=0, le=100)

    # -- answering -----------------------------------------------------------------------------
    answer_passages: int = _setting(8, "passages an answer reads", ge=1, le=100)
    answer_sentences: int = _setting(3, "sentences an answer may quote", ge=1, le=50)
    min_evidence: float | None = _setting(
        None, "the least probability (0..1) of the best sentence for the extractive answerer to answer; "
        "unset: the threshold fitted with its scoring model (assistant/models/answerer.json, `make tune`)",
        ge=0, le=1)
    word_rarity: Literal["candidates", "index"] = _setting(
        "candidates", "what the extractive answerer weighs question words by: their rarity among the candidate "
        "sentences, or over the whole index (public papers of the council scope: no retrieved passage then "
        "re-weights another's words, but the fits so far lose dev precision with it; README, answering)")
    llm_base_url: str | None = _setting(None, "an OpenAI-compatible endpoint", pattern=_URL)
    llm_model: str | None = _setting(None, "the model name the endpoint is asked for", pattern=_ONE_LINE)
    llm_api_key_env: str | None = _setting(None, "the environment variable holding the endpoint's API key", pattern=_VARIABLE)
    llm_timeout: float = _setting(60.0, "seconds each network wait of an LLM call may take", gt=0, le=3600)

    # -- reading papers ------------------------------------------------------------------------
    pdf_password: str | None = _setting(None, "password tried on encrypted PDFs", hidden=True)
    extract_timeout: float = _setting(
        60.0, "seconds one file's text extraction may take (in a worker process) before it is reported as "
        "failed, and again its chunking; with OCR, per page; 0: no limit", ge=0, le=86_400)
    follow_external_links: bool = _setting(
        False, "whether ingest follows a symbolic link in a corpus folder to a file or folder outside the "
        "folders it was given (off: such links are skipped, so a link to /etc/passwd is never indexed)")
    ocr: Literal["auto", "off"] = _setting(
        "auto", "PDF pages without a usable text layer: auto reads them with Tesseract (when installed), "
        "off leaves them out with a warning")
    ocr_max_pages: int = _setting(
        200, "pages of one PDF read by OCR at most (the first ones; a warning names the rest), so that a scan "
        "of hundreds of pages cannot hold an ingest for hours", ge=1, le=100_000)
    ocr_max_megapixels: float = _setting(
        25.0, "megapixels of one page image rendered for OCR at most (a larger page is rendered at fewer dots "
        "per inch), so that a huge page cannot take gigabytes of memory", ge=1, le=400)
    default_council: str | None = _setting(None, "council for papers whose manifest names none", pattern=_ONE_LINE)
    council_scope: str | None = _setting(
        None, "keep every search and answer to these councils (several separated by ';')", pattern=_ONE_LINE)
    progress: bool = _setting(True, "progress bars for work a person waits on")

    # -- vector store --------------------------------------------------------------------------
    vector_store: Literal["faiss", "milvus"] = _setting(
        "faiss", "where ingest puts the vectors: faiss (files in the index folder) or milvus (a server "
        "several replicas share); readers follow the index's manifest")
    milvus_uri: str | None = _setting(
        None, "where this machine reaches Milvus (default the one ingest used, or DEFAULT_MILVUS_URI)", pattern=_ONE_LINE)
    milvus_collection: str = _setting("council_assistant", "the prefix of this index's Milvus collections",
                                pattern=_NAME)
    milvus_token_env: str | None = _setting(
        None, "the environment variable holding Milvus credentials ('user:password' or an API key)", pattern=_VARIABLE)

    # -- users ---------------------------------------------------------------------------------
    ui_username: str | None = _setting(None, "login for the chat UI: on when both it and ui_password are set", pattern=_ONE_LINE)
    ui_password: str | None = _setting(None, "password of the chat UI's login; never logged", hidden=True)
    users_file: str | None = _setting(
        None, "users and their access (users.py): when the file exists, the UI login and the API's HTTP "
        "Basic auth check it, and only users marked restricted see restricted papers", pattern=_ONE_LINE)
    feedback_file: str | None = _setting(
        None, "the SQLite file of 👍/👎 feedback on answers (feedback.py; default: feedback.sqlite3 in the "
        "index folder, never with the papers; a name ending in .jsonl, from earlier versions, is imported "
        "into a .sqlite3 file beside it)", pattern=_ONE_LINE)
    rate_limit: int = _setting(0, "answers one user may ask for in a minute (more get 429); 0: no limit",
                         ge=0, le=100_000)

    # -- importing from a council's site (`import moderngov`) ------------------------------------
    import_contact: str | None = _setting(
        None, "who the site's operators can contact about our requests (sent in the User-Agent; required "
        "to import)", pattern=_CONTACT)
    import_delay: float = _setting(1.0, "seconds between requests", ge=0, le=60)
    import_timeout: float = _setting(30.0, "seconds each read of a request may take", gt=0, le=600)
    import_retries: int = _setting(3, "retries of a time-out, dropped connection or busy answer (doubling "
                                "back-off)", ge=0, le=10)
    import_window_days: int = _setting(28, "days back a re-run checks meetings again for papers published late",
                                 ge=0, le=366)

    # -- e-mail of the watch report (`watch report --email`) -----------------------------------
    smtp_host: str | None = _setting(None, "the SMTP server", pattern=_HOST)
    smtp_port: int = _setting(25, "the SMTP server's port", ge=1, le=65535)
    smtp_starttls: bool = _setting(False, "STARTTLS before the login")
    smtp_username: str | None = _setting(None, "the SMTP login (its password: smtp_password_env)", pattern=_ONE_LINE)
    smtp_password_env: str | None = _setting(
        None, "the environment variable holding the SMTP password (never this file)", pattern=_VARIABLE)
    smtp_sender: str | None = _setting(None, "the report's sender", pattern=_EMAILS)
    smtp_recipients: str | None = _setting(None, "the report's recipients, separated by ';' or ','",
                                     pattern=_EMAILS)

    def __post_init__(self) -> None:
        for name, value in _validate({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}).items():
            object.__setattr__(self, name, value)

    @classmethod
    def load(
        cls,
        file: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> "Settings":
        """Settings from `file` (or COUNCIL_ASSISTANT_SETTINGS, or ./council-assistant.toml when present),
        then `env` (the process environment unless given), then `overrides` (None values ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        path = file or Path(env.get(ENV_PREFIX + "SETTINGS", SETTINGS_FILE))
        if path.is_file():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
            sources.update(dict.fromkeys(values, str(path)))
        elif file is not None:
            raise SettingsError(f"{file}: settings file not found")
        for f in dataclasses.fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key in env:
                values[f.name], sources[f.name] = env[key], f"environment variable {key}"
        for name, value in overrides.items():
            if value is not None:
                values[name], sources[name] = value, "the caller"
        return cls(**_validate(values, sources))

    def secret(self, name: str) -> str:
        """The secret `name` (llm_api_key, milvus_token or smtp_password) from the environment variable
        its `<name>_env` setting names; '' when that setting or the variable is unset. Read at each call
        and never kept, so it shows in no repr, log or error."""
        variable = getattr(self, SECRETS[name])
        return os.environ.get(variable, "") if variable else ""


# Variables libraries read when they start, by the part of the program that needs them: the model
# hub offline and quiet (no network, no advisory warnings), Gradio's analytics off, and Tesseract on
# one thread per page (its own threads only slow it down on a shared machine). The Tesseract limit is
# set only where OCR runs: set before torch or FAISS start, it would limit their threads as well.
LIBRARY_ENVIRONMENT: dict[str, dict[str, str]] = {
    "models": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"},
    "gradio": {"GRADIO_ANALYTICS_ENABLED": "False"},
    "tesseract": {"OMP_THREAD_LIMIT": "1"},
}


def prepare_libraries(*parts: str) -> None:
    """Set the variables of LIBRARY_ENVIRONMENT's `parts` that the environment does not set already
    (a value the user set wins). Called where each library is first reached (the CLI, the UI module,
    the torch encoder, OCR), before it is imported or started."""
    for part in parts:
        for name, value in LIBRARY_ENVIRONMENT[part].items():
            os.environ.setdefault(name, value)


def email_addresses(value: str | None) -> list[str]:
    """The addresses of a setting such as smtp_recipients, split at ';' or ','."""
    return [a.strip() for a in re.split(r"[;,]", value or "") if a.strip()]


def _validator() -> type:
    """A pydantic model with Settings' fields and bounds, patterns anchored (built once, on first use)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        hints = typing.get_type_hints(Settings, include_extras=True)
        fields = {}
        for f in dataclasses.fields(Settings):
            bounds = dict(f.metadata["bounds"])
            if "pattern" in bounds:
                bounds["pattern"] = f"^(?:{bounds['pattern']})$"
            fields[f.name] = (Annotated[hints[f.name], Field(**bounds)], f.default)
        _VALIDATOR = create_model("SettingsValidator", __config__=ConfigDict(coerce_numbers_to_str=True,
                                                                             extra="forbid"), **fields)
    return _VALIDATOR


_VALIDATOR: type | None = None


def _validate(values: dict[str, Any], sources: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`values` converted and checked against each field's type and bounds ('' reads as unset where a
    field may be unset); otherwise a SettingsError naming every bad field and where its value came
    from (`sources`, by field name)."""
    nullable = {f.name for f in dataclasses.fields(Settings) if f.default is None}
    values = {k: None if k in nullable and v == "" else v for k, v in values.items()}
    try:
        model = _validator().model_validate(values)
    except ValidationError as exc:
        raise SettingsError("; ".join(_message(error, values, sources or {}) for error in exc.errors())) from None
    return {name: getattr(model, name) for name in values}


def _message(error: Any, values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """One validation error as `SOURCE: setting NAME=VALUE: what to give instead`."""
    name = str(error["loc"][0]) if error["loc"] else "?"
    if error["type"] == "extra_forbidden":
        return f"unknown setting {name}" + (f" (in {sources[name]})" if name in sources else "")
    shown = "(hidden)" if name in _HIDDEN else repr(values.get(name))
    where = f"{sources[name]}: " if name in sources else ""
    return f"{where}setting {name}={shown}: {_reason(name, error)}"


def _reason(name: str, error: Any) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind.startswith("bool"):
        return "expected true or false"
    if kind.startswith("int"):
        return "expected a whole number"
    if kind.startswith("float"):
        return "expected a number"
    if kind == "literal_error":
        return "choose one of " + context.get("expected", "").replace("'", "").replace(" or ", ", ")
    if kind == "string_pattern_mismatch":
        pattern = context.get("pattern", "").removeprefix("^(?:").removesuffix(")$")
        return _PATTERN_HINTS.get(pattern, error["msg"])
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = _BOUNDS[name]
        low = f"from {bounds['ge']}" if "ge" in bounds else f"over {bounds['gt']}"
        return f"give a value {low} up to {bounds['le']}"
    return str(error["msg"])


_BOUNDS = {f.name: f.metadata["bounds"] for f in dataclasses.fields(Settings)}
# fields whose values are never shown, in a repr or an error message
_HIDDEN = frozenset(f.name for f in dataclasses.fields(Settings) if not f.repr)
