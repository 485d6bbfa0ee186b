"""DAG params -> form fields: the widget, label, help, choices and value of each param.

``build_fields`` turns the params the catalog stores (``{name: {"default", "description",
"schema"}}``) into ``ParamField`` specs the template renders, reading each schema the way
Airflow's own trigger forms do (README "Trigger forms").
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    description: str = ""  # the author's words as plain text (messages quote it)
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
        return [choice_key(v) for v in values if v is not None]

    @property
    def checked(self) -> bool:
        """A checkbox's state."""
        return self.value is True


def choice_key(value: Any) -> str:
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
        values = list(choice_values(f))
        # Defaults outside the offered list stay choosable: untouched, they are sent as given.
        values += [v for v in f.default or [] if isinstance(f.default, list) and v not in values]
    else:
        return []
    shown = f.schema.get("values_display")
    shown = shown if isinstance(shown, dict) else {}
    return [(choice_key(v), str(shown.get(choice_key(v), v))) for v in values if v is not None]


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
        description=str(
            param.get("description")
            or schema.get("description")
            or schema.get("description_md")
            or ""
        ).strip(),
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


def choice_values(f: ParamField) -> list[Any]:
    """The values a multi-select offers: ``items.enum``, else ``examples``."""
    return list(_items(f.schema).get("enum") or f.schema.get("examples") or [])


# --- display -------------------------------------------------------------------------------


def display_text(f: ParamField, value: Any) -> str:
    """A value as text for its input (datetime-local has no zone: shown in UTC)."""
    if value is None:
        return ""
    if f.widget == "datetime" and isinstance(value, str):
        return datetime_local_text(value)
    if f.widget == "lines" and isinstance(value, list):
        return "\n".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    if f.widget == "json":
        return json.dumps(value, indent=2)
    return value if isinstance(value, str) else json.dumps(value)


def datetime_local_text(value: str) -> str:
    """An ISO date-time as a datetime-local input shows it: in UTC, no zone, with seconds."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")
