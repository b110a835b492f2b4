"""One settings object, read once from `council-assistant.toml` and `COUNCIL_ASSISTANT_*` variables.

Precedence: explicit overrides > environment > settings file > defaults.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import SettingsError
from .ocr import MODES as OCR_MODES

ENV_PREFIX = "COUNCIL_ASSISTANT_"
SETTINGS_FILE = "council-assistant.toml"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
VECTOR_STORES = ("faiss", "milvus")
DEFAULT_MILVUS_URI = "http://127.0.0.1:19530"


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    embedding_model: str = DEFAULT_MODEL
    embed_batch_size: int = 64
    # "auto": ONNX Runtime when ingest has exported the model (fast start), else torch; or "onnx", "torch".
    encoder_runtime: str = "auto"
    # "fp32", or "int8" (the ONNX export quantized; ONNX Runtime only). The index manifest records the
    # precision that built it, and a query with the other one is refused: rebuild to switch.
    encoder_precision: str = "fp32"
    chunk_words: int = 90
    chunk_overlap_sentences: int = 1
    top_k: int = 5
    candidates: int = 50
    rrf_k: int = 60
    sparse_weight: float = 2.0
    answer_passages: int = 8
    answer_sentences: int = 3
    # the least probability (0..1) of the best sentence for the extractive answerer to answer; unset: the
    # threshold fitted with its scoring model (assistant/models/answerer.json, `make tune`)
    min_evidence: float | None = None
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key_env: str | None = None
    llm_timeout: float = 60.0
    pdf_password: str | None = None
    # Seconds one file's text extraction may take (in a worker process) before it is reported as failed, and
    # again its chunking; 0: no limit.
    extract_timeout: float = 60.0
    # Whether ingest follows a symbolic link in a corpus folder to a file or folder outside the folders it
    # was given (off: such links are reported as skipped, so a link to /etc/passwd is never indexed).
    follow_external_links: bool = False
    # PDF pages without a usable text layer (scans): "auto" reads them with Tesseract (when installed),
    # "off" leaves them out with a warning. With OCR, extract_timeout applies to each page read.
    ocr: str = "auto"
    default_council: str | None = None
    # keep every search and answer to these councils ("Sefton Council"; several separated by ";")
    council_scope: str | None = None
    progress: bool = True
    # Where ingest puts the vectors: "faiss" (files in the index folder) or "milvus" (a server several
    # replicas share; see README "Scaling out"). Readers follow the index's manifest; milvus_uri (default
    # the one ingest used, or DEFAULT_MILVUS_URI) says where this machine reaches the server.
    vector_store: str = "faiss"
    milvus_uri: str | None = None
    milvus_collection: str = "council_assistant"
    # the environment variable holding Milvus credentials ("user:password" or an API key), if any
    milvus_token_env: str | None = None
    # Login for the chat UI: on when both are set (e.g. COUNCIL_ASSISTANT_UI_PASSWORD); never logged.
    ui_username: str | None = None
    ui_password: str | None = dataclasses.field(default=None, repr=False)
    # Importing from a council's site (`import moderngov`): who its operators can contact about our
    # requests (an e-mail address or web address; sent in the User-Agent, required to import), the
    # pause between requests, each request's time limit (seconds per read), how many times a time-out,
    # dropped connection or busy answer is retried (with doubling back-off), and how many days back a
    # re-run checks meetings again for papers published late (minutes come weeks after).
    import_contact: str | None = None
    import_delay: float = 1.0
    import_timeout: float = 30.0
    import_retries: int = 3
    import_window_days: int = 28
    # E-mail of the watch report (`watch report --email`): SMTP server, sender and recipients
    # (separated by ";" or ","); the password, if the server wants one, is read from the environment
    # variable smtp_password_env names (with smtp_username), never from this file.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_env: str | None = None
    smtp_sender: str | None = None
    smtp_recipients: str | None = None
    # Users and their access (see users.py; `council-assistant users add`): when this file exists, the UI
    # login and the API's HTTP Basic auth check it, and only users marked restricted see restricted papers.
    users_file: str | None = None
    # Answers one user may ask for in a minute (the chat and /api/ask; more get 429); 0: no limit.
    rate_limit: int = 0

    def __post_init__(self) -> None:
        if self.vector_store not in VECTOR_STORES:
            raise SettingsError(f"setting vector_store={self.vector_store!r}: choose one of {', '.join(VECTOR_STORES)}")
        if self.ocr not in OCR_MODES:
            raise SettingsError(f"setting ocr={self.ocr!r}: choose one of {', '.join(OCR_MODES)}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_collection):
            raise SettingsError(f"setting milvus_collection={self.milvus_collection!r}: use letters, digits and "
                                "underscores, starting with a letter or underscore")
        if self.import_contact is not None and not _CONTACT.fullmatch(self.import_contact):
            raise SettingsError(f"setting import_contact={self.import_contact!r}: give an e-mail address "
                                "(name@example.org) or a web address (https://...), on one line")
        if not 0 < self.import_timeout <= 600:
            raise SettingsError(f"setting import_timeout={self.import_timeout!r}: give seconds from 0.1 to 600")
        if self.import_delay > 60 or self.import_retries > 10 or self.import_window_days > 366:
            raise SettingsError("settings import_delay (at most 60 s), import_retries (at most 10) and "
                                "import_window_days (at most 366): one is out of range")
        if not 0 < self.smtp_port < 65536:
            raise SettingsError(f"setting smtp_port={self.smtp_port!r}: give a port from 1 to 65535")
        for name in ("smtp_sender", "smtp_recipients"):
            value = getattr(self, name)
            if value is not None and not all(_EMAIL.fullmatch(a) for a in email_addresses(value)):
                raise SettingsError(f"setting {name}={value!r}: give e-mail addresses (name@example.org), "
                                    "several separated by ';'")

    @classmethod
    def load(
        cls,
        file: Path | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = file or Path(env.get(ENV_PREFIX + "SETTINGS", SETTINGS_FILE))
        if path.is_file():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
            source = str(path)
        elif file is not None:
            raise SettingsError(f"{file}: settings file not found")
        else:
            source = "settings"
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise SettingsError(f"{source}: unknown setting(s) {', '.join(sorted(unknown))}")
        for name in fields:
            key = ENV_PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{name: _coerce(name, fields[name].type, value) for name, value in values.items()})


_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_CONTACT = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+|https?://[^\s<>]+")


def email_addresses(value: str | None) -> list[str]:
    """The addresses of a setting such as smtp_recipients, split at ';' or ','."""
    return [a.strip() for a in re.split(r"[;,]", value or "") if a.strip()]


def _coerce(name: str, type_name: str, value: Any) -> Any:
    try:
        if type_name == "Path":
            return Path(value)
        if type_name == "int":
            number = int(value)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if type_name in ("float", "float | None"):
            if value in (None, "") and type_name != "float":
                return None
            number = float(value)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if type_name == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(value).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        return None if value in (None, "") else str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}={value!r}: {exc}") from exc
