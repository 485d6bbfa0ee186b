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

from controlpanel.markdown import render_markdown

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


# --- fields --------------------------------------------------------------------------------

# text multiline date datetime time select checkbox number multiselect lines json hidden
FORMAT_WIDGETS = {"date": "date", "date-time": "datetime", "time": "time", "multiline": "multiline"}


@dataclass
class ParamField:
    """One param as a form field: the widget, its attributes, label, help and value."""

    name: str
    label: str
    widget: str  # one of the names listed above
    schema: dict[str, Any]  # the param's own schema: what Airflow validates against
    json_type: str  # declared or, for untyped params, inferred from the default
    required: bool = False
    help_html: str = ""
    section: str = NO_SECTION
    choices: list[tuple[str, str]] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    item_type: str = ""  # of a "lines" array: "string", "integer" or "number"
    attrs: dict[str, str] = field(default_factory=dict)
    default: Any = None
    value: Any = None
    errors: list[str] = field(default_factory=list)
    raw: str | None = None  # what was typed, when it could not be read as the param's type

    @property
    def optional(self) -> bool:
        """True when the field may be left empty (sent as null)."""
        return not self.required

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


def _items(schema: Mapping[str, Any]) -> dict[str, Any]:
    items = schema.get("items")
    return items if isinstance(items, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lines_item_type(schema: Mapping[str, Any], default: Any) -> str | None:
    """The item type of an array typed one item per line, or None for a JSON editor.

    Items of strings or numbers (declared, or for untyped params seen in the default) are
    lines; items of objects, arrays or several types need JSON.
    """
    items = _items(schema)
    if items:
        item_type, _ = split_type(items.get("type"))
        if item_type in ("string", "integer", "number"):
            return item_type
        return "string" if item_type is None and not set(items) & _STRUCTURE_KEYS else None
    if "type" not in schema and isinstance(default, list) and default:
        if all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return "integer"
        if all(_is_number(v) for v in default):
            return "number"
        if not all(isinstance(v, str) for v in default):
            return None
    return "string"


_STRUCTURE_KEYS = {"properties", "items", "required", "additionalProperties", "anyOf", "oneOf"}


def _widget(schema: dict[str, Any], json_type: str | None, several_types: bool) -> str:
    if "const" in schema:
        return "hidden"
    if several_types:
        return "json"
    if isinstance(schema.get("enum"), list) and json_type in (None, "string", "number", "integer"):
        return "select"
    if json_type == "boolean":
        return "checkbox"
    if json_type == "string" or json_type is None:
        return FORMAT_WIDGETS.get(str(schema.get("format", "")), "text")
    if json_type in ("integer", "number"):
        return "number"
    if json_type == "array":
        if isinstance(_items(schema).get("enum"), list) or isinstance(schema.get("examples"), list):
            return "multiselect"
        return "lines"
    return "json"


def _attrs(f: ParamField) -> dict[str, str]:
    schema, attrs = f.schema, {}
    if f.widget in ("text", "multiline"):
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if isinstance(schema.get(key), int):
                attrs[attr] = str(schema[key])
        if f.widget == "text" and isinstance(schema.get("pattern"), str):
            attrs["pattern"] = schema["pattern"]
    elif f.widget == "number":
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if _is_number(schema.get(key)):
                attrs[attr] = str(schema[key])
        attrs["step"] = "1" if f.json_type == "integer" else "any"
    elif f.widget == "time":
        attrs["step"] = "1"
    return attrs


def _choices(f: ParamField) -> list[tuple[str, str]]:
    if f.widget == "select":
        values = list(f.schema.get("enum") or [])
    elif f.widget == "multiselect":
        values = list(_choice_values(f))
        # Defaults outside the offered list stay choosable: untouched, they are sent as given.
        values += [v for v in f.default or [] if isinstance(f.default, list) and v not in values]
    else:
        return []
    shown = f.schema.get("values_display")
    shown = shown if isinstance(shown, dict) else {}
    return [(_choice_key(v), str(shown.get(_choice_key(v), v))) for v in values if v is not None]


def _help(param: Mapping[str, Any], schema: dict[str, Any]) -> str:
    if schema.get("description_md"):
        return render_markdown(str(schema["description_md"]))
    text = param.get("description") or schema.get("description") or ""
    return html.escape(str(text)).replace("\n", "<br>")


def _types(schema: dict[str, Any], default: Any) -> tuple[str | None, bool, bool]:
    """(main type, required, several types) as Airflow's forms read them.

    A declared type without "null" makes the field required (booleans are always sent);
    untyped params take their type from the default and are optional.
    """
    declared = schema.get("type")
    if declared is None:
        inferred = None if default is None or "enum" in schema else infer_type(default)
        return inferred, False, False
    names = declared if isinstance(declared, list) else [declared]
    non_null = [t for t in names if t != "null"]
    main = non_null[0] if non_null else None
    return main, "null" not in names and main != "boolean", len(non_null) > 1


def build_field(name: str, param: Mapping[str, Any]) -> ParamField:
    """The form field of one stored param."""
    schema = dict(param.get("schema") or {})
    default = param.get("default")
    json_type, required, several_types = _types(schema, default)
    widget = _widget(schema, json_type, several_types)
    item_type = _lines_item_type(schema, default) if widget == "lines" else ""
    if item_type is None:
        widget, item_type = "json", ""
    f = ParamField(
        name=name,
        label=str(schema.get("title") or name),
        widget=widget,
        schema=schema,
        json_type=json_type or "",
        required=required and widget != "hidden",
        help_html=_help(param, schema),
        section=str(schema.get("section") or NO_SECTION),
        item_type=item_type or "",
        default=default,
        value=schema["const"] if widget == "hidden" else default,
    )
    f.choices = _choices(f)
    f.attrs = _attrs(f)
    if widget == "text" and isinstance(schema.get("examples"), list):
        f.suggestions = [str(v) for v in schema["examples"] if v is not None]
    return f


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
    """Fields grouped by ``section`` in the order sections first appear, unsectioned first."""
    groups: dict[str, list[ParamField]] = {NO_SECTION: []}
    for f in fields:
        if f.widget != "hidden":
            groups.setdefault(f.section, []).append(f)
    return [(name, group) for name, group in groups.items() if group]


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
    if f.widget == "json":
        return json.dumps(value, indent=2)
    return value if isinstance(value, str) else json.dumps(value)


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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        raise FieldError("This JSON is nested too deeply.") from exc


def _multiselect(f: ParamField, raw: list[str]) -> Any:
    keys = [r for r in raw if r != ""]
    if not keys:
        return _empty(f)
    by_key = {_choice_key(v): v for v in [*_choice_values(f), *(f.default or [])]}
    return [by_key.get(k, k) for k in keys]


def _select(f: ParamField, text: str) -> Any:
    if text == "":
        return _empty(f)
    by_key = {_choice_key(v): v for v in f.schema.get("enum") or []}
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


def _choice_values(f: ParamField) -> list[Any]:
    return list(_items(f.schema).get("enum") or f.schema.get("examples") or [])


def _iso_datetime(text: str, default: Any) -> str:
    """A datetime-local value (no zone: UTC) or an ISO string, as ISO 8601 with offset.

    The default comes back exactly as written when the picker shows the same moment.
    """
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldError("Enter a date and time.") from exc
    if isinstance(default, str) and _datetime_local(default) == _datetime_local(text):
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
    text = f.schema.get("description") or ""
    if not text and f.help_html:
        text = re.sub(r"<[^>]+>", "", f.help_html)
    return str(text).strip() or (f"Check the {f.label} format." if f.label != f.name else "")


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
    """Check a conf written as JSON: an object, each known param valid under its schema."""
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
            errors[f.name] = [f"{f.label}: {p}" for p in problems]
    return Submission(dict(conf), errors)
