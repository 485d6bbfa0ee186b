"""The cases both parity test modules share: the example DAGs, the edited set, the compare."""

from __future__ import annotations

import json
from typing import Any

from tests.parity.airflow_forms import Edit

TUTORIAL = "example_params_ui_tutorial"
GREETER = "example_params_trigger_ui"


def as_json(conf: dict[str, Any]) -> dict[str, str]:
    """Each value as JSON text: a difference in type (3 / 3.0 / "3") is a difference."""
    return {key: json.dumps(value, sort_keys=True) for key, value in conf.items()}


def tutorial_edits(major: int) -> dict[str, Edit]:
    """The edited set (param names differ: 2.x ``x``/``text``/``a_simple_list``, 3.x
    ``number_param``/``text_param``/``list_param``)."""
    number, text, lines = ("x", "text", "a_simple_list")
    if major >= 3:
        number, text, lines = ("number_param", "text_param", "list_param")
    edits = {
        number: Edit.typed("7"),  # untyped int param
        "most_loved_number": Edit.typed("21"),
        "optional_field": Edit.clear(),
        text: Edit.clear(),  # untyped string param
        "multi_select": Edit.choose("one", "four"),
        "multi_select_with_label": Edit.choose("1", "5"),
        "multiline_text": Edit.typed("first line\nsecond line\n  third indented"),
        "array_of_objects": Edit.json('[{"name": "n1", "country": "c1"}, {"name": "n2"}]'),
        "array_of_numbers": Edit.json("[4, 5.5]"),
        "object": Edit.json('{"a": 1}'),
        lines: Edit.typed("alpha\n beta \n\ngamma"),
        "bool": Edit.untick(),
        "pick_one": Edit.choose("value 17"),
        "pick_with_label": Edit.choose(7),
        "date": Edit.datetime("2024-05-06"),
        "time": Edit.datetime("07:08:09"),
    }
    if major >= 3:  # a datetime-local input: local time, minutes precision
        edits["date_time"] = Edit.datetime("2024-05-06T07:08")
    else:  # a free text box with a picker
        edits["date_time"] = Edit.datetime("2024-05-06T07:08:09+00:00")
        edits["checked_number"] = Edit.typed("99.5")
    return edits
