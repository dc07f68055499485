"""Secrets for the push layer: API keys and webhook signing keys.

They come from the environment (`TALLY_STRIPE_API_KEY`, ...) or from a secrets file outside the
repository (`$TALLY_SECRETS_FILE`, default `~/.config/tally/secrets.env`: `NAME=value` lines,
`#` comments); the environment wins. A file inside the project directory is refused, so a key
can never be committed by accident.

Every secret value that is read is registered here, and `mask()` replaces it (and its
URL-encoded and base64 forms) with `****` in any text: the push layer masks every error message
it stores, logs or raises, and `install_log_masking()` puts a filter on the log handlers so that
no record (Tally's, an SDK's or urllib3's) prints one.
"""
from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus

from ..settings import project_dir

MASK = "****"
_lock = threading.Lock()
_registered: set[str] = set()


class SecretsError(ValueError):
    pass


def secrets_file() -> Path:
    env = os.environ.get("TALLY_SECRETS_FILE")
    return Path(env).expanduser().resolve() if env else Path.home() / ".config" / "tally" / "secrets.env"


def _read_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        inside = path.resolve().is_relative_to(project_dir())
    except RuntimeError:
        inside = False
    if inside:
        raise SecretsError(f"{path}: a secrets file must live outside the repository "
                           "(set TALLY_SECRETS_FILE to a path such as ~/.config/tally/secrets.env)")
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            # never echo the line: it may be a secret pasted without its name
            raise SecretsError(f"{path}:{n}: expected NAME=value")
        name, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name.strip()] = value
    return out


class Secrets:
    """Named secrets (environment first, then the secrets file); every value read is masked."""

    def __init__(self, env: dict[str, str] | None = None, file: Path | None = None):
        self._env = dict(os.environ if env is None else env)
        self._file = _read_file(file if file is not None else secrets_file())
        for source in (self._env, self._file):
            for name, value in source.items():
                if value and _is_secret_name(name):
                    register(value)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._env.get(name) or self._file.get(name) or default
        if value and _is_secret_name(name):
            register(value)
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise SecretsError(f"{name} is not set (environment or {secrets_file()})")
        return value

    def has(self, *names: str) -> bool:
        return all(self.get(n) for n in names)


_SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD")


def _is_secret_name(name: str) -> bool:
    return name.startswith("TALLY_") and any(w in name.upper() for w in _SECRET_WORDS)


def register(value: str) -> None:
    if value and len(value) >= 4:
        with _lock:
            _registered.add(value)


def mask(text) -> str:
    """`text` with every registered secret (raw, URL-encoded, base64) replaced by ****."""
    if text is None:
        return ""
    out = str(text)
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for v in values:
        for form in _forms(v):
            if form and form in out:
                out = out.replace(form, MASK)
    return out


def _forms(value: str) -> tuple[str, ...]:
    b64 = base64.b64encode(value.encode()).decode()
    return (value, quote(value, safe=""), quote_plus(value), b64, b64.rstrip("="))


def _mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken record is not ours to fix
        return record
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    return record


class MaskingFilter(logging.Filter):
    """Masks secrets in a record's message (arguments included) and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


_installed = False


def install_log_masking() -> None:
    """Mask secrets in every log record created from now on, whichever logger or handler
    (Tally's, an SDK's, urllib3's) it goes to: the record factory masks it at creation."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return _mask_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
