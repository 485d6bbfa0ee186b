"""Trigger forms generated from a DAG's params: one field per param, parsed and validated.

Pure Python (no Django forms): ``build_fields`` turns the params the catalog stores
(``{name: {"default", "description", "schema"}}``) into ``ParamField`` specs the template
renders; ``parse_submission`` turns the posted strings back into a conf and checks every
value with ``jsonschema`` against the same schema Airflow will check, so people see their
mistakes next to the field before Airflow is called.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed

# The form field names carry a prefix so params never clash with the form's own fields.
PREFIX = "param__"
NO_SECTION = ""


def infer_type(default: Any) -> str:
    """The JSON-schema type Airflow's own trigger form infers from a default value."""
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    if isinstance(default, list | tuple):
        return "array"
    if isinstance(default, dict):
        return "object"
    return "string"


def split_type(schema_type: Any) -> tuple[str | None, bool]:
    """(the main type, whether null is allowed) of a schema's ``type``."""
    if isinstance(schema_type, list):
        types = [t for t in schema_type if t != "null"]
        return (types[0] if len(types) == 1 else None), "null" in schema_type
    if isinstance(schema_type, str):
        return (None if schema_type == "null" else schema_type), schema_type == "null"
    return None, False


# --- safe markdown -------------------------------------------------------------------------

_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__")
_ITALIC = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?!\w)|(?<![\w_])_([^_\n]+)_(?!\w)")


def render_markdown(text: str) -> str:
    """A tiny, safe subset of markdown as HTML: bold, italic, code, http(s) links.

    Everything is HTML-escaped first, so no tag or attribute from the text survives;
    only the few tags made here reach the page.
    """
    escaped = html.escape(text or "", quote=True)
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _CODE.sub(keep_code, escaped)
    out = _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', out)
    out = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", out)
    out = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], out)
    return out.replace("\n", "<br>")


# --- fields --------------------------------------------------------------------------------


@dataclass
class ParamField:
    """One param as a form field: the widget, its attributes, label, help and value."""

    name: str
    label: str
    widget: str  # text date datetime time select checkbox number multiselect lines json hidden
    schema: dict[str, Any]
    json_type: str
    optional: bool = False
    help_html: str = ""
    section: str = NO_SECTION
    choices: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    default: Any = None
    value: Any = None
    errors: list[str] = field(default_factory=list)
    raw: str | None = None  # what was typed, when it could not be read as the param's type

    @property
    def input_name(self) -> str:
        """The HTML name and id of the input."""
        return PREFIX + self.name

    @property
    def text(self) -> str:
        """The value as the input shows it (what was typed, if it was unreadable)."""
        return self.raw if self.raw is not None else display_text(self, self.value)

    @property
    def selected(self) -> list[str]:
        """The selected choice values (select and multi-select)."""
        values = self.value if isinstance(self.value, list) else [self.value]
        return [_choice_key(v) for v in values if v is not None]

    @property
    def checked(self) -> bool:
        """A checkbox's state."""
        return self.value is True


def _choice_key(value: Any) -> str:
    """Choices compare as text: enum values may be numbers."""
    return value if isinstance(value, str) else json.dumps(value)


def _widget(schema: dict[str, Any], json_type: str | None) -> str:
    if "const" in schema:
        return "hidden"
    if "enum" in schema:
        return "select"
    if json_type == "string":
        return {"date": "date", "date-time": "datetime", "time": "time"}.get(
            str(schema.get("format", "")), "text"
        )
    if json_type == "boolean":
        return "checkbox"
    if json_type in ("integer", "number"):
        return "number"
    if json_type == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if (items and "enum" in items) or schema.get("examples"):
            return "multiselect"
        return "lines"
    return "json"


def _attrs(schema: dict[str, Any], widget: str, json_type: str | None) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if widget == "text":
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if isinstance(schema.get(key), int):
                attrs[attr] = str(schema[key])
        if isinstance(schema.get("pattern"), str):
            attrs["pattern"] = schema["pattern"]
    elif widget == "number":
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(schema.get(key), int | float) and not isinstance(schema[key], bool):
                attrs[attr] = str(schema[key])
        attrs["step"] = "1" if json_type == "integer" else "any"
    elif widget == "time":
        attrs["step"] = "1"
    return attrs


def _choices(schema: dict[str, Any], widget: str) -> list[tuple[str, str]]:
    if widget == "select":
        values = list(schema.get("enum") or [])
    elif widget == "multiselect":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        values = list((items or {}).get("enum") or schema.get("examples") or [])
    else:
        return []
    shown = schema.get("values_display") if isinstance(schema.get("values_display"), dict) else {}
    return [
        (_choice_key(v), str((shown or {}).get(_choice_key(v), v))) for v in values if v is not None
    ]


def _help(param: Mapping[str, Any], schema: dict[str, Any]) -> str:
    if schema.get("description_md"):
        return render_markdown(str(schema["description_md"]))
    text = param.get("description") or schema.get("description") or ""
    return html.escape(str(text)).replace("\n", "<br>")


def build_field(name: str, param: Mapping[str, Any]) -> ParamField:
    """The form field of one stored param."""
    schema = dict(param.get("schema") or {})
    default = param.get("default")
    if "type" not in schema and "const" not in schema and "enum" not in schema:
        schema["type"] = infer_type(default)
        if default is None:
            schema["type"] = ["null", "string"]
    json_type, optional = split_type(schema.get("type"))
    widget = _widget(schema, json_type)
    return ParamField(
        name=name,
        label=str(schema.get("title") or name),
        widget=widget,
        schema=schema,
        json_type=json_type or "",
        optional=optional,
        help_html=_help(param, schema),
        section=str(schema.get("section") or NO_SECTION),
        choices=_choices(schema, widget),
        attrs=_attrs(schema, widget, json_type),
        default=default,
        value=schema["const"] if widget == "hidden" else default,
    )


def build_fields(
    params: Mapping[str, Any], values: Mapping[str, Any] | None = None
) -> list[ParamField]:
    """Every param's field, in the DAG's order, prefilled with ``values`` or the defaults."""
    fields = [build_field(name, param or {}) for name, param in params.items()]
    for f in fields:
        if values is not None and f.name in values and f.widget != "hidden":
            f.value = values[f.name]
    return fields


def sections(fields: Iterable[ParamField]) -> list[tuple[str, list[ParamField]]]:
    """Fields grouped by ``section`` (fields without one first), for fieldsets."""
    groups: dict[str, list[ParamField]] = {}
    for f in fields:
        if f.widget != "hidden":
            groups.setdefault(f.section, []).append(f)
    ordered = sorted(groups.items(), key=lambda item: item[0] != NO_SECTION)
    return ordered


def default_conf(fields: Iterable[ParamField]) -> dict[str, Any]:
    """The conf the form would send untouched: each field's current value."""
    return {f.name: f.value for f in fields}


# --- display -------------------------------------------------------------------------------


def display_text(f: ParamField, value: Any) -> str:
    """A value as text for its input (datetime-local has no zone: shown in UTC)."""
    if value is None:
        return ""
    if f.widget == "datetime" and isinstance(value, str):
        return _datetime_local(value)
    if f.widget == "lines" and isinstance(value, list):
        return "\n".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    if f.widget in ("json", "hidden") or not isinstance(value, str):
        if f.widget == "json":
            return json.dumps(value, indent=2)
        return value if isinstance(value, str) else json.dumps(value)
    return value


def _datetime_local(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


# --- parsing and validation ----------------------------------------------------------------


class FieldError(ValueError):
    """A posted value that cannot be turned into the param's type."""


def _required(f: ParamField) -> None:
    if not f.optional:
        raise FieldError("This field is required.")


def _number(f: ParamField, text: str) -> Any:
    if text == "":
        return _required(f)
    try:
        number = float(text)
    except ValueError as exc:
        raise FieldError("Enter a number.") from exc
    if f.json_type == "integer":
        if not number.is_integer():
            raise FieldError("Enter a whole number.")
        return int(number)
    return int(number) if number.is_integer() and "." not in text else number


def _item(f: ParamField, text: str) -> Any:
    items = f.schema.get("items") if isinstance(f.schema.get("items"), dict) else {}
    item_type, _ = split_type((items or {}).get("type"))
    if item_type in ("integer", "number"):
        try:
            number = float(text)
            return int(number) if item_type == "integer" and number.is_integer() else number
        except ValueError:
            return text  # jsonschema names the problem
    return text


def parse_value(f: ParamField, raw: list[str]) -> Any:
    """The posted strings of one field as the param's value (raises FieldError)."""
    text = raw[-1].strip() if raw else ""
    if f.widget == "hidden":
        return f.schema.get("const")
    if f.widget == "checkbox":
        return bool(raw) and raw[-1] not in ("", "off", "false")
    if f.widget == "multiselect":
        keys = [r for r in raw if r != ""]
        by_key = {_choice_key(v): v for v in _choice_values(f)}
        return [by_key.get(k, _item(f, k)) for k in keys]
    if f.widget == "select":
        if text == "":
            return _required(f)
        by_key = {_choice_key(v): v for v in f.schema.get("enum") or []}
        if text not in by_key:
            raise FieldError("Choose one of the listed values.")
        return by_key[text]
    if f.widget == "number":
        return _number(f, text)
    if f.widget == "lines":
        lines = [line.strip() for line in (raw[-1] if raw else "").splitlines()]
        return [_item(f, line) for line in lines if line]
    if f.widget == "json":
        if text == "":
            return _required(f) if f.json_type else None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldError(f"This is not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
    if f.widget == "datetime" and text:
        return _iso_datetime(text)
    if text == "" and f.optional:
        return None
    return raw[-1] if raw else ""


def _choice_values(f: ParamField) -> list[Any]:
    items = f.schema.get("items") if isinstance(f.schema.get("items"), dict) else {}
    return list((items or {}).get("enum") or f.schema.get("examples") or [])


def _iso_datetime(text: str) -> str:
    """A datetime-local value (no zone: UTC) or an ISO string, as ISO 8601 with offset."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldError("Enter a date and time.") from exc
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
    return [friendly_message(e) for e in param_validator(f.schema).iter_errors(value)]


def friendly_message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message for the common rules in words a form user reads."""
    rule, limit = error.validator, error.validator_value
    messages = {
        "minLength": f"Enter at least {limit} characters.",
        "maxLength": f"Enter at most {limit} characters.",
        "pattern": f"The value must match the pattern {limit}.",
        "minimum": f"Enter {limit} or more.",
        "maximum": f"Enter {limit} or less.",
        "exclusiveMinimum": f"Enter more than {limit}.",
        "exclusiveMaximum": f"Enter less than {limit}.",
        "minItems": f"Give at least {limit} items.",
        "maxItems": f"Give at most {limit} items.",
        "format": f"Enter a valid {limit}.",
    }
    if rule == "type":
        return f"The value must be of type {limit}."
    if rule == "enum":
        return "Choose one of the listed values."
    return messages.get(str(rule), error.message)


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
    """Check a conf written as JSON: an object, each known param valid under its schema."""
    if not isinstance(conf, dict):
        return Submission({}, {"": ['The conf must be a JSON object: {"name": value, ...}.']})
    errors: dict[str, list[str]] = {}
    for f in fields:
        if f.name in conf:
            problems = schema_errors(f, conf[f.name])
            if problems:
                errors[f.name] = [f"{f.label}: {p}" for p in problems]
    return Submission(dict(conf), errors)
