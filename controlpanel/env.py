"""Typed readers for settings that come from the environment.

Every reader accepts ``NAME_FILE`` as an alternative to ``NAME``: when it is set, the value is
read from that file (surrounding whitespace stripped). This is how Docker and Kubernetes
secrets are mounted, and it keeps secrets out of ``/proc/<pid>/environ``.

A value that cannot be understood raises ``ImproperlyConfigured`` at start-up, naming the
variable, instead of silently falling back to a default the operator did not ask for.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _read_raw(name: str) -> tuple[str | None, str]:
    """Return the raw value of ``name`` and a label saying where it came from.

    ``NAME_FILE`` wins over ``NAME`` so a secret file mounted by the orchestrator cannot be
    shadowed by a stale plain variable left in an env file.
    """
    file_name = f"{name}_FILE"
    path = os.environ.get(file_name, "")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip(), f"{name} (from {file_name})"
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{file_name} points to {path!r}, which cannot be read: {exc.strerror}."
            ) from exc
    return os.environ.get(name), name


def _read_typed(name: str) -> tuple[str | None, str]:
    """Return the stripped value of ``name``, or None when it is unset or blank.

    A blank typed value (``DEBUG=``) is treated as unset: compose files often declare a
    variable without giving it a value, and that should mean "use the default".
    """
    raw, source = _read_raw(name)
    if raw is None or not raw.strip():
        return None, source
    return raw.strip(), source


def env_str(name: str, default: str) -> str:
    """Return the string value of ``name``, or ``default`` when it is not set.

    An empty value is returned as the empty string, so callers can tell "set but empty"
    from "unset" by passing a sentinel default when that matters.
    """
    raw, _source = _read_raw(name)
    return default if raw is None else raw


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean value of ``name``; accepts 1/0, true/false, yes/no, on/off.

    Anything else raises, because guessing (``DEBUG=maybe``) on a security-relevant flag is
    worse than refusing to start.
    """
    value, source = _read_typed(name)
    if value is None:
        return default
    word = value.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{source} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}."
    )


def env_int(name: str, default: int) -> int:
    """Return the integer value of ``name``, or ``default`` when it is not set."""
    value, source = _read_typed(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{source} must be an integer, got {value!r}.") from None


def env_float(name: str, default: float) -> float:
    """Return the floating point value of ``name``, or ``default`` when it is not set."""
    value, source = _read_typed(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{source} must be a number, got {value!r}.") from None


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    """Return the comma-separated value of ``name`` as a list of non-empty, stripped items.

    ``NAME=`` (set but blank) yields an empty list rather than the default, so an operator
    can explicitly clear a list such as ``CSRF_TRUSTED_ORIGINS``.
    """
    raw, _source = _read_raw(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Turn a ``DATABASE_URL`` into a Django ``DATABASES`` entry.

    Accepts ``postgres://user:password@host:port/name`` (``postgresql://`` too; query
    parameters such as ``?sslmode=require`` become ``OPTIONS``) and ``sqlite:///path``.
    As in SQLAlchemy and dj-database-url, ``sqlite:///var/db.sqlite3`` is relative (here:
    to ``base_dir``) and ``sqlite:////srv/db.sqlite3`` is absolute.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite_database(parts.path, base_dir)
    if parts.scheme in ("postgres", "postgresql"):
        return _postgres_database(parts)
    # Only the scheme is echoed: the rest of the URL usually holds a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL has an unsupported scheme {parts.scheme!r}; use "
        "postgres://user:password@host:port/name or sqlite:///path/to/db.sqlite3."
    )


def _sqlite_database(url_path: str, base_dir: Path) -> dict[str, Any]:
    """Build the SQLite entry; the path after ``sqlite://`` loses one leading slash."""
    path = url_path[1:] if url_path.startswith("/") else url_path
    if not path:
        raise ImproperlyConfigured("DATABASE_URL sqlite:/// needs a file path after it.")
    if path != ":memory:" and not Path(path).is_absolute():
        path = str(base_dir / path)
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}


def _postgres_database(parts: SplitResult) -> dict[str, Any]:
    """Build the PostgreSQL entry; user, password and name are percent-decoded."""
    name = unquote(parts.path.lstrip("/"))
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL has a port that is not a number.") from None
    if not name:
        raise ImproperlyConfigured(
            "DATABASE_URL must name the database: postgres://user:password@host:port/name."
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port) if port else "",
        "OPTIONS": dict(parse_qsl(parts.query)),
    }
