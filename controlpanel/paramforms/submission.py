"""Posted trigger forms -> conf: each field's strings read as its param's value, checked.

``parse_submission`` reads every field as a browser posts it and checks each value with
``jsonschema`` against the same schema Airflow will check, so people see their mistakes
next to the field, in plain words, before Airflow is called; ``validate_conf`` checks a conf
written as JSON the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed

from controlpanel.limits import too_deep
from controlpanel.paramforms.fields import (
    ParamField,
    choice_key,
    choice_values,
    datetime_local_text,
)

# --- parsing and validation ----------------------------------------------------------------


class FieldError(ValueError):
    """A posted value that cannot be turned into the param's type."""


REQUIRED = "This field is required."


def _empty(f: ParamField) -> None:
    """An emptied field: null, as Airflow's forms send it, unless the param needs a value."""
    if f.required:
        raise FieldError(REQUIRED)


def _to_number(text: str, integer: bool) -> int | float:
    """A number as a browser's ``Number()`` reads it; whole numbers stay integers (as JSON
    from a browser does), so ``100`` and ``100.0`` both become ``100``."""
    try:
        number = float(text)
    except ValueError as exc:
        raise FieldError("Enter a number.") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise FieldError("Enter a number.")
    if number.is_integer():
        return int(number)
    if integer:
        raise FieldError("Enter a whole number.")
    return number


def _number(f: ParamField, text: str) -> Any:
    if text.strip() == "":
        return _empty(f)
    return _to_number(text.strip(), f.json_type == "integer")


def _lines(f: ParamField, text: str) -> Any:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return _empty(f)
    if f.item_type not in ("integer", "number"):
        return lines
    try:
        return [_to_number(line, f.item_type == "integer") for line in lines]
    except FieldError as exc:
        kind = "whole numbers" if f.item_type == "integer" else "numbers"
        raise FieldError(f"Enter {kind}, one per line.") from exc


def _json(f: ParamField, text: str) -> Any:
    if text.strip() == "":
        return _empty(f)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        raise FieldError("This JSON is nested too deeply.") from exc
    if too_deep(value):
        raise FieldError("This JSON is nested too deeply.")
    return value


def _multiselect(f: ParamField, raw: list[str]) -> Any:
    keys = [r for r in raw if r != ""]
    if not keys:
        return _empty(f)
    by_key = {choice_key(v): v for v in [*choice_values(f), *(f.default or [])]}
    return [by_key.get(k, k) for k in keys]


def _select(f: ParamField, text: str) -> Any:
    if text == "":
        return _empty(f)
    by_key = {choice_key(v): v for v in f.schema.get("enum") or []}
    if text not in by_key:
        raise FieldError("Choose one of the listed values.")
    return by_key[text]


def parse_value(f: ParamField, raw: list[str]) -> Any:
    """The posted strings of one field as the param's value (raises FieldError).

    Text is kept exactly as typed (no trimming; browsers post newlines as CRLF, sent as LF);
    an emptied field is null, as Airflow's own forms send it.
    """
    text = (raw[-1] if raw else "").replace("\r\n", "\n")
    if f.widget == "hidden":
        return f.schema.get("const")
    if f.widget == "checkbox":
        return bool(raw) and raw[-1] not in ("", "off", "false")
    if f.widget == "multiselect":
        return _multiselect(f, raw)
    if f.widget == "select":
        return _select(f, text)
    if f.widget == "number":
        return _number(f, text)
    if f.widget == "lines":
        return _lines(f, text)
    if f.widget == "json":
        return _json(f, text)
    if text == "":
        return _empty(f)
    if f.widget == "datetime":
        return _iso_datetime(text, f.default)
    if f.widget == "time" and re.fullmatch(r"\d\d:\d\d", text):
        # A picker left at whole minutes posts "07:08", which Airflow's time check refuses.
        return text + ":00"
    return text


def _iso_datetime(text: str, default: Any) -> str:
    """A datetime-local value (no zone: UTC) or an ISO string, as ISO 8601 with offset.

    The default comes back exactly as written when the picker shows the same moment.
    """
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldError("Enter a date and time.") from exc
    if isinstance(default, str) and datetime_local_text(default) == datetime_local_text(text):
        return default
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return parsed.isoformat()


def param_validator(schema: dict[str, Any]) -> Any:
    """A validator for a param's schema chosen the way Airflow's ``Param.resolve`` does.

    (``jsonschema.validate``: the draft the schema names, else the latest, with formats.)
    The form and the API both check conf with it, so they agree with Airflow.
    """
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(f: ParamField, value: Any) -> list[str]:
    """What is wrong with ``value`` under the field's schema, in plain words."""
    if value is None and f.required:
        return [REQUIRED]
    try:
        found = list(param_validator(f.schema).iter_errors(value))
    except RecursionError:
        return ["This value is nested too deeply."]
    return [friendly_message(e, f) for e in found]


def _hint(f: ParamField | None) -> str:
    """Words that say what a pattern expects: the param's description, else its title."""
    if f is None:
        return ""
    return f.description or (f"Check the {f.label} format." if f.label != f.name else "")


def _where(error: jsonschema.ValidationError) -> str:
    """ "Item 2: " or "In options.retries: " for errors inside arrays and objects."""
    path = list(error.absolute_path)
    if not path:
        return ""
    if len(path) == 1 and isinstance(path[0], int):
        return f"Item {path[0] + 1}: "
    shown = ".".join(f"[{p + 1}]" if isinstance(p, int) else str(p) for p in path)
    return f"At {shown.replace('.[', '[')}: "


def friendly_message(error: jsonschema.ValidationError, f: ParamField | None = None) -> str:
    """jsonschema's message for the common rules in words a form user reads."""
    rule, limit = error.validator, error.validator_value
    hint = _hint(f)
    messages = {
        "minLength": f"Enter at least {limit} characters.",
        "maxLength": f"Enter at most {limit} characters.",
        "pattern": "This is not in the expected form." + (f" {hint}" if hint else ""),
        "minimum": f"Enter {limit} or more.",
        "maximum": f"Enter {limit} or less.",
        "exclusiveMinimum": f"Enter more than {limit}.",
        "exclusiveMaximum": f"Enter less than {limit}.",
        "minItems": f"Give at least {limit} items.",
        "maxItems": f"Give at most {limit} items.",
        "uniqueItems": "Give each item only once.",
        "format": f"Enter a valid {limit}.",
        "enum": "Choose one of the listed values.",
        "const": "This value cannot be changed.",
        "additionalProperties": "Remove the keys this param does not know.",
    }
    if rule == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        text = f"The value must be of type {' or '.join(str(k) for k in kinds)}."
    elif rule == "required" and isinstance(error.instance, dict):
        missing = [k for k in limit if k not in error.instance]
        text = f"Give a value for {', '.join(repr(k) for k in missing)}."
    else:
        text = messages.get(str(rule), error.message)
    return ("" if f is not None and f.widget == "multiselect" else _where(error)) + text


@dataclass
class Submission:
    """A parsed form: the conf to send and the errors by param name."""

    conf: dict[str, Any]
    errors: dict[str, list[str]]

    @property
    def is_valid(self) -> bool:
        """True when no field has an error."""
        return not self.errors


def parse_submission(fields: list[ParamField], data: Mapping[str, list[str]]) -> Submission:
    """Read every field from posted data (name -> values), then validate each value.

    Fields keep what was typed (``value``) and their ``errors``, so the form shows both.
    """
    conf: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for f in fields:
        raw = list(data.get(f.input_name, []))
        try:
            value = parse_value(f, raw)
        except FieldError as exc:
            errors[f.name] = [str(exc)]
            f.raw = raw[-1] if raw else ""
            continue
        conf[f.name] = f.value = value
        problems = schema_errors(f, value)
        if problems:
            errors[f.name] = problems
    for f in fields:
        f.errors = errors.get(f.name, [])
    return Submission(conf, errors)


def validate_conf(fields: list[ParamField], conf: Any) -> Submission:
    """Check a conf written as JSON: an object, each known param valid under its schema.

    The one conf check of the panel: the form's JSON box and the API use it alike.
    """
    if not isinstance(conf, dict):
        return Submission({}, {"": ['The conf must be a JSON object: {"name": value, ...}.']})
    errors: dict[str, list[str]] = {}
    for f in fields:
        if f.name in conf:
            problems = schema_errors(f, conf[f.name])
        elif f.required and f.default is None:
            problems = [REQUIRED]  # Airflow would fill in the default, but there is none
        else:
            problems = []
        if problems:
            errors[f.name] = problems
    return Submission(dict(conf), errors)
