"""The sizes and ranges the panel accepts, checked before a service or Airflow sees the input.

Input past these limits would otherwise reach Airflow and come back as its 413, 414 or 500
(then shown as the panel's 502), or blow Python's recursion limit while being read. The
configurable limits are settings (``CONF_MAX_*``, ``NOTE_MAX_CHARS``, ``MAX_REQUEST_BYTES``);
the id lengths and number ranges are Airflow's own columns, so they are fixed here.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

# Airflow's ID_LEN (dag_id, run_id, task_id columns) and its 32-bit integer columns.
ID_MAX_LENGTH = 250
MAP_INDEX_MIN, MAP_INDEX_MAX = -1, 2**31 - 1
TRY_NUMBER_MAX = 2**31 - 1


class LimitError(ValueError):
    """A value outside the panel's limits; ``errors`` maps the input's name to plain words."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def too_deep(value: Any, max_depth: int | None = None) -> bool:
    """Whether JSON-like ``value`` nests objects or lists deeper than ``max_depth``.

    Walked without recursion, so any depth is measured safely.
    """
    limit = settings.CONF_MAX_DEPTH if max_depth is None else max_depth
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _key_count(value: Any) -> int:
    """Keys of every object inside ``value`` (called only once its depth is known safe)."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def conf_problems(conf: Any) -> list[str]:
    """What makes a conf too deep or too big for the panel, in plain words ([] if it fits)."""
    if too_deep(conf):
        return [f"The conf is nested more than {settings.CONF_MAX_DEPTH} levels deep."]
    problems = []
    keys = _key_count(conf)
    if keys > settings.CONF_MAX_KEYS:
        problems.append(f"The conf has {keys} keys; at most {settings.CONF_MAX_KEYS} are taken.")
    size = len(json.dumps(conf, default=str).encode())
    if size > settings.CONF_MAX_BYTES:
        problems.append(
            f"The conf is {size} bytes as JSON; at most {settings.CONF_MAX_BYTES} are taken."
        )
    return problems


def note_problems(note: str | None) -> list[str]:
    """What makes a run's note too long ([] if it fits)."""
    if note and len(note) > settings.NOTE_MAX_CHARS:
        return [f"The note may have at most {settings.NOTE_MAX_CHARS} characters."]
    return []


def check_trigger_input(conf: Any, note: str | None) -> None:
    """Raise LimitError naming ``conf`` and ``note`` when either is past its limit."""
    errors = {
        name: problems
        for name, problems in (("conf", conf_problems(conf)), ("note", note_problems(note)))
        if problems
    }
    if errors:
        raise LimitError(errors)


def check_id(name: str, value: str) -> str:
    """``value`` if it fits Airflow's id columns, else LimitError naming ``name``."""
    if len(value) > ID_MAX_LENGTH:
        raise LimitError({name: [f"At most {ID_MAX_LENGTH} characters."]})
    return value


def whole_number(name: str, text: str, low: int, high: int) -> int:
    """A query parameter as a whole number within ``low .. high``, else LimitError."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        raise LimitError({name: [f"Give a whole number from {low} to {high}."]})
    number = int(stripped)
    if not low <= number <= high:
        raise LimitError({name: [f"Give a whole number from {low} to {high}."]})
    return number
