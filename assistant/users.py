"""Who may use the served app: a users file of argon2 password hashes, each user public or restricted.

The file (setting `users_file`, environment COUNCIL_ASSISTANT_USERS_FILE) is JSON written atomically and
readable by its owner only: `{"format": 1, "users": {"name": {"hash": "$argon2id$...", "restricted": false}}}`.
It is managed by `council-assistant users add|remove|list`. A restricted user may see restricted
(exempt) papers; any other user is answered as if they did not exist.

`Logins` is what the server checks credentials against: the users file when there is one, else the
single `ui_username`/`ui_password` login (one user with full access), else nobody (the app is open).
argon2 is slow on purpose (tens of ms a check); a check that succeeded is remembered in memory, under a
keyed hash of the credentials, for as long as the file is unchanged, so that an API client sending
Basic credentials with every request pays it once.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import SettingsError

log = logging.getLogger(__name__)

FORMAT = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_CHARS = 8
REMEMBERED_LOGINS = 4096


@dataclass(frozen=True)
class User:
    """A signed-in user: the name, and whether restricted papers are theirs to see."""

    name: str
    restricted: bool


def read_users(path: Path) -> dict[str, dict]:
    """The users in the file: name -> {"hash", "restricted"}; an empty dict when there is no file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: the users file cannot be read ({exc}); fix or remove it") from exc
    users = data.get("users") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(users, dict) or not all(
            isinstance(u, dict) and isinstance(u.get("hash"), str) and isinstance(u.get("restricted"), bool)
            for u in users.values()):
        raise SettingsError(f"{path}: not a users file of format {FORMAT}; manage it with `council-assistant users`")
    return users


def write_users(path: Path, users: dict[str, dict]) -> None:
    """Replace the users file atomically, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"format": FORMAT, "users": users}, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def add_user(path: Path, name: str, password: str, restricted: bool = False) -> None:
    """Add `name` (or replace their password and access)."""
    if not NAME.fullmatch(name or ""):
        raise SettingsError(f"user name {name!r}: use up to 64 letters, digits, '.', '_', '@' or '-', "
                            "starting with a letter or digit")
    if len(password) < MIN_PASSWORD_CHARS:
        raise SettingsError(f"the password for {name} is too short: use at least {MIN_PASSWORD_CHARS} characters")
    users = read_users(path)
    users[name] = {"hash": PasswordHasher().hash(password), "restricted": bool(restricted)}
    write_users(path, users)


def remove_user(path: Path, name: str) -> None:
    users = read_users(path)
    if name not in users:
        raise SettingsError(f"{path}: no user named {name!r}; `council-assistant users list` shows them")
    del users[name]
    write_users(path, users)


class Logins:
    """Checks credentials for the UI login and the API's HTTP Basic auth (thread-safe)."""

    def __init__(self, users_file: Path | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        if bool(username) != bool(password):
            raise SettingsError("ui_username and ui_password must be set together (COUNCIL_ASSISTANT_UI_USERNAME "
                                "and COUNCIL_ASSISTANT_UI_PASSWORD) to turn the login on")
        self.users_file = users_file
        self.single = (username, password) if username and password else None
        self._key = secrets.token_bytes(32)
        self._remembered: dict[bytes, User] = {}
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @property
    def from_file(self) -> bool:
        return self.users_file is not None and self.users_file.is_file()

    @property
    def required(self) -> bool:
        """Whether anyone must sign in (a users file exists, or the single login is set)."""
        return self.from_file or self.single is not None

    def check(self, name: str, password: str) -> User | None:
        """The user these credentials sign in, or None."""
        if not isinstance(name, str) or not isinstance(password, str):
            return None
        if self.from_file:
            return self._check_file(name, password)
        if self.single is not None:
            user_ok = hmac.compare_digest(name.encode(), self.single[0].encode())
            password_ok = hmac.compare_digest(password.encode(), self.single[1].encode())
            return User(name, True) if user_ok and password_ok else None
        return None

    def user(self, name: str | None) -> User | None:
        """The user called `name` as the file has them now (None when not in it): access is read
        afresh, so a change to the file applies to signed-in users at their next request."""
        if name is None:
            return None
        if self.from_file:
            entry = read_users(self.users_file).get(name)
            return User(name, entry["restricted"]) if entry else None
        if self.single is not None and name == self.single[0]:
            return User(name, True)
        return None

    def _check_file(self, name: str, password: str) -> User | None:
        stat = self.users_file.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        token = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            if self._seen != version:
                self._remembered.clear()
                self._seen = version
            known = self._remembered.get(token)
        if known is not None:
            return known
        entry = read_users(self.users_file).get(name)
        try:
            self._hasher.verify(entry["hash"] if entry else self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if entry is None:
            return None
        user = User(name, entry["restricted"])
        with self._lock:
            if len(self._remembered) >= REMEMBERED_LOGINS:
                self._remembered.clear()
            self._remembered[token] = user
        return user
