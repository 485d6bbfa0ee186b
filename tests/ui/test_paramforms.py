"""The trigger form generated from params: one test per rule of issue 5, on the showcase shapes."""

from __future__ import annotations

from typing import Any

import pytest

from controlpanel import paramforms as pf
from controlpanel.markdown import render_markdown
from tests.ui.conftest import SHOWCASE_PARAMS


def fields() -> dict[str, pf.ParamField]:
    return {f.name: f for f in pf.build_fields(SHOWCASE_PARAMS)}


def post(**values: Any) -> dict[str, list[str]]:
    """Form data as the browser posts it, starting from the untouched defaults."""
    data: dict[str, list[str]] = {}
    for f in pf.build_fields(SHOWCASE_PARAMS):
        if f.widget == "checkbox":
            data[f.input_name] = ["true"] if f.checked else []
        elif f.widget == "multiselect":
            data[f.input_name] = f.selected
        else:
            data[f.input_name] = [f.text]
    for name, value in values.items():
        data[pf.PREFIX + name] = value if isinstance(value, list) else [value]
    return data


def parse(**values: Any) -> pf.Submission:
    return pf.parse_submission(pf.build_fields(SHOWCASE_PARAMS), post(**values))


def test_string_is_a_text_input_with_length_and_pattern() -> None:
    customer = fields()["customer"]
    assert customer.widget == "text"
    assert customer.attrs == {"minlength": "2", "maxlength": "30", "pattern": "^[a-z0-9_]+$"}
    assert customer.label == "Customer code" and customer.text == "acme"


@pytest.mark.parametrize(
    ("name", "widget", "shown"),
    [
        ("run_date", "date", "2024-01-31"),
        ("run_at", "datetime", "2024-01-31T12:00:00"),
        ("cutoff_time", "time", "06:00:00"),
    ],
)
def test_date_formats_get_native_pickers(name: str, widget: str, shown: str) -> None:
    f = fields()[name]
    assert (f.widget, f.text) == (widget, shown)


def test_a_time_picked_at_whole_minutes_gets_its_seconds() -> None:
    # Airflow 3's own form sends "07:08" here and Airflow then refuses the run.
    assert parse(cutoff_time="07:08").conf["cutoff_time"] == "07:08:00"
    assert parse(cutoff_time="07:08:09").conf["cutoff_time"] == "07:08:09"


def test_datetime_local_is_sent_back_with_an_offset() -> None:
    submission = parse(run_at="2024-02-01T08:30")
    assert submission.is_valid, submission.errors
    assert submission.conf["run_at"] == "2024-02-01T08:30:00+00:00"


def test_enum_is_a_select_labelled_by_values_display() -> None:
    region = fields()["region"]
    assert region.widget == "select"
    assert region.choices == [("eu", "Europe"), ("us", "United States"), ("apac", "Asia-Pacific")]
    assert region.selected == ["eu"]
    assert parse(region="us").conf["region"] == "us"
    assert parse(region="mars").errors["region"] == ["Choose one of the listed values."]


def test_boolean_is_a_checkbox() -> None:
    assert fields()["dry_run"].widget == "checkbox"
    assert parse(dry_run="true").conf["dry_run"] is True
    assert parse(dry_run=[]).conf["dry_run"] is False


def test_numbers_have_min_max_and_are_checked() -> None:
    batch, threshold = fields()["batch_size"], fields()["threshold"]
    assert batch.attrs == {"min": "1", "max": "1000", "step": "1"}
    assert threshold.attrs == {"min": "0", "max": "1", "step": "any"}
    conf = parse(batch_size="250", threshold="0.75").conf
    assert (conf["batch_size"], conf["threshold"]) == (250, 0.75)
    assert parse(batch_size="5000").errors["batch_size"] == ["Enter 1000 or less."]
    assert parse(batch_size="2.5").errors["batch_size"] == ["Enter a whole number."]
    assert parse(threshold="abc").errors["threshold"] == ["Enter a number."]
    assert parse(batch_size="").errors["batch_size"] == ["This field is required."]


def test_array_with_item_enum_or_examples_is_a_multi_select() -> None:
    channels = fields()["channels"]
    assert channels.widget == "multiselect"
    assert [v for v, _ in channels.choices] == ["email", "sms", "slack"]
    assert parse(channels=["sms", "slack"]).conf["channels"] == ["sms", "slack"]
    assert parse(channels=["fax"]).errors["channels"] == ["Choose one of the listed values."]
    examples_only = pf.build_field(
        "x", {"default": [], "schema": {"type": "array", "examples": ["a", "b"]}}
    )
    assert examples_only.widget == "multiselect" and examples_only.choices == [
        ("a", "a"),
        ("b", "b"),
    ]


def test_other_arrays_take_one_item_per_line() -> None:
    tables = fields()["tables"]
    assert tables.widget == "lines" and tables.text == "orders\ncustomers"
    assert parse(tables="a\n\n b \nc").conf["tables"] == ["a", "b", "c"]


def test_objects_and_unknown_types_are_json_textareas_checked_as_json() -> None:
    options = fields()["options"]
    assert options.widget == "json"
    assert parse(options='{"retries": 5}').conf["options"] == {"retries": 5}
    errors = parse(options="{retries: 5}").errors["options"]
    assert errors[0].startswith("This is not valid JSON")
    assert parse(options="[1]").errors["options"] == ["The value must be of type object."]
    odd = pf.build_field("odd", {"default": None, "schema": {"type": ["string", "integer"]}})
    assert odd.widget == "json"


def test_null_union_is_optional_and_empty_means_none() -> None:
    comment = fields()["comment"]
    assert comment.optional and comment.widget == "text"
    assert parse(comment="").conf["comment"] is None
    assert parse(comment="hello").conf["comment"] == "hello"


def test_const_is_hidden_and_cannot_be_changed() -> None:
    version = fields()["schema_version"]
    assert version.widget == "hidden" and version.value == 2
    assert parse(schema_version="3").conf["schema_version"] == 2
    assert "schema_version" not in [
        f.name for _, fs in pf.sections(pf.build_fields(SHOWCASE_PARAMS)) for f in fs
    ]


def test_title_is_the_label_else_the_name() -> None:
    assert fields()["run_date"].label == "Run date"
    assert fields()["batch_size"].label == "batch_size"


def test_description_is_escaped_help_and_markdown_is_rendered_safely() -> None:
    assert fields()["customer"].help_html == "Lower-case customer code"
    assert fields()["comment"].help_html == (
        "<p>An optional <strong>comment</strong> for the run log</p>"
    )
    hostile = render_markdown(
        "<img src=x onerror=alert(1)> *it* `a<b` [ok](https://x.example/?a=1&b=2) "
        '[bad](javascript:alert(1)) [q](https://x" onmouseover="alert(1))'
    )
    assert "<img" not in hostile and "&lt;img" in hostile
    assert "<em>it</em>" in hostile and "<code>a&lt;b</code>" in hostile
    assert '<a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer">ok</a>' in hostile
    assert 'href="javascript' not in hostile and "[bad](javascript:alert(1))" in hostile
    assert 'onmouseover="' not in hostile
    plain = pf.build_field(
        "p", {"default": "", "description": "<b>x</b>", "schema": {"type": "string"}}
    )
    assert plain.help_html == "&lt;b&gt;x&lt;/b&gt;"


def test_sections_become_fieldsets_with_unsectioned_fields_first() -> None:
    groups = pf.sections(pf.build_fields(SHOWCASE_PARAMS))
    names = [name for name, _ in groups]
    assert names == ["", "Who", "When"]
    assert [f.name for f in dict(groups)["When"]] == ["cutoff_time", "run_at", "run_date"]


def test_defaults_prefill_and_untouched_defaults_are_valid() -> None:
    submission = parse()
    assert submission.is_valid, submission.errors
    expected = {name: p["default"] for name, p in SHOWCASE_PARAMS.items()}
    assert submission.conf == expected


@pytest.mark.parametrize(
    ("default", "json_type", "widget"),
    [
        (True, "boolean", "checkbox"),
        (7, "integer", "number"),
        (0.5, "number", "number"),
        (["a"], "array", "lines"),
        ({"a": 1}, "object", "json"),
        ("x", "string", "text"),
    ],
)
def test_type_is_inferred_from_the_default_like_airflow(
    default: Any, json_type: str, widget: str
) -> None:
    f = pf.build_field("p", {"default": default, "schema": {}})
    assert (f.json_type, f.widget) == (json_type, widget)
    assert pf.infer_type(default) == json_type


def test_inferred_integer_is_validated_as_integer() -> None:
    assert parse(legacy_limit="8").conf["legacy_limit"] == 8
    assert parse(legacy_limit="x").errors["legacy_limit"] == ["Enter a number."]


def test_string_rules_are_enforced_with_plain_messages() -> None:
    assert parse(customer="a").errors["customer"] == ["Enter at least 2 characters."]
    # A pattern is explained with the param's own description, never shown as a regex.
    assert parse(customer="Bad Code!").errors["customer"] == [
        "This is not in the expected form. Lower-case customer code"
    ]
    assert parse(run_date="31/01/2024").errors["run_date"] == ["Enter a valid date."]


def test_submitted_values_are_kept_on_the_fields_with_their_errors() -> None:
    built = pf.build_fields(SHOWCASE_PARAMS)
    pf.parse_submission(built, post(customer="A", batch_size="abc"))
    by_name = {f.name: f for f in built}
    assert by_name["customer"].text == "A" and by_name["customer"].errors
    assert by_name["batch_size"].text == "abc" and by_name["batch_size"].errors


def test_conf_written_as_json_is_validated_against_the_same_schemas() -> None:
    built = pf.build_fields(SHOWCASE_PARAMS)
    assert pf.validate_conf(built, {"batch_size": 0, "extra": 1}).errors == {
        "batch_size": ["Enter 1 or more."]
    }
    assert pf.validate_conf(built, [1]).errors[""]
    assert pf.validate_conf(built, {"region": "us"}).is_valid


# --- shapes of Airflow's own example DAGs (example_params_ui_tutorial) ---------------------


def one(schema: dict[str, Any], default: Any = None, **param: Any) -> pf.ParamField:
    return pf.build_field("p", {"default": default, "schema": schema, **param})


def parse_one(f: pf.ParamField, *raw: str) -> Any:
    submission = pf.parse_submission([f], {f.input_name: list(raw)})
    return submission.errors.get("p") or submission.conf["p"]


def test_multiline_text_keeps_its_newlines_and_text_is_never_trimmed() -> None:
    f = one({"type": ["string", "null"], "format": "multiline"}, "a\nb")
    assert f.widget == "multiline" and f.text == "a\nb" and f.optional
    assert parse_one(f, "first\r\n  second \r\n") == "first\n  second \n"
    text = one({"type": "string"}, "x")
    assert parse_one(text, "  padded  ") == "  padded  "


def test_a_typed_param_without_null_is_required_and_empty_is_refused() -> None:
    f = one({"type": "string", "title": "Required text field"})
    assert f.required and f.widget == "text" and f.text == ""
    assert parse_one(f, "") == ["This field is required."]
    assert parse_one(f, "typed") == "typed"
    assert not one({"type": "boolean"}, True).required  # a checkbox always sends a value
    assert not one({"type": ["null", "string"]}).required


def test_emptied_untyped_params_are_sent_as_null_like_airflow() -> None:
    for default in ("Hello World!", 3, 2.5, None, ["a"], {"k": 1}):
        f = one({}, default)
        assert f.optional, default
        assert parse_one(f, "") is None, default


def test_number_arrays_keep_whole_numbers_whole() -> None:
    numbers = one({"type": "array", "items": {"type": "number"}}, [1, 2, 3])
    assert numbers.widget == "lines" and numbers.item_type == "number"
    assert numbers.text == "1\n2\n3"
    sent = parse_one(numbers, "1\n2.0\n3.5")
    assert sent == [1, 2, 3.5] and [type(v) for v in sent] == [int, int, float]
    integers = one({"type": "array", "items": {"type": "integer"}}, [1])
    assert parse_one(integers, "1\n2.5") == ["Enter whole numbers, one per line."]
    assert parse_one(integers, "1\nabc") == ["Enter whole numbers, one per line."]
    untyped = one({}, [5, 6])
    assert untyped.item_type == "integer" and parse_one(untyped, "7\n8") == [7, 8]
    assert parse_one(one({"type": "number"}, 1), "100.0") == 100


def test_arrays_of_objects_get_a_json_editor_whose_default_is_valid() -> None:
    schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    }
    default = [{"name": "account_name", "country": "country_name"}]
    f = one(schema, default)
    assert f.widget == "json" and f.required
    assert parse_one(f, f.text) == default
    assert parse_one(f, '[{"name": "a"}, {"country": "b"}]') == ["Item 2: Give a value for 'name'."]
    assert parse_one(f, '[{"name": "a"') == [
        "This is not valid JSON: Expecting ',' delimiter (line 1, column 14)."
    ]


def test_examples_on_a_string_are_suggestions_not_a_fixed_list() -> None:
    f = one({"type": "string", "examples": ["Alpha", "Bravo"]}, "some value")
    assert f.widget == "text" and f.suggestions == ["Alpha", "Bravo"]
    assert parse_one(f, "Zulu") == "Zulu"


def test_chips_keep_a_default_that_is_not_among_the_examples() -> None:
    f = one({"type": "array", "examples": ["one", "two"]}, ["two", "legacy"])
    assert [v for v, _ in f.choices] == ["one", "two", "legacy"]
    assert f.selected == ["two", "legacy"]
    assert parse_one(f, "two", "legacy") == ["two", "legacy"]
    assert parse_one(f) == ["This field is required."]
    optional = one({"type": ["array", "null"], "examples": ["one"]}, None)
    assert parse_one(optional) is None


def test_several_types_get_a_json_editor_and_an_enum_with_null_offers_none() -> None:
    assert one({"type": ["string", "integer"]}).widget == "json"
    f = one({"type": ["number", "null"], "enum": [1, 2, None]}, 1)
    assert f.widget == "select" and f.optional and [v for v, _ in f.choices] == ["1", "2"]
    assert parse_one(f, "") is None and parse_one(f, "2") == 2


def test_sections_come_in_the_order_the_author_first_used_them() -> None:
    params = {
        "a": {"schema": {"type": "string", "section": "Later"}},
        "b": {"schema": {"type": "string"}},
        "c": {"schema": {"type": "string", "section": "Earlier"}},
        "d": {"schema": {"type": "string", "section": "Later"}},
    }
    groups = pf.sections(pf.build_fields(params))
    assert [(name, [f.name for f in fs]) for name, fs in groups] == [
        ("", ["b"]),
        ("Later", ["a", "d"]),
        ("Earlier", ["c"]),
    ]


def test_a_pattern_is_explained_by_title_when_there_is_no_description() -> None:
    f = one({"type": "string", "pattern": "^[A-Z]{3}$", "title": "Currency"}, "EUR")
    assert parse_one(f, "eur") == ["This is not in the expected form. Check the Currency format."]


def test_a_pattern_hint_quotes_the_description_as_plain_words() -> None:
    f = one({"type": "string", "pattern": "^[a-z]+$"}, "abc", description="The customer's code")
    assert parse_one(f, "ABC") == ["This is not in the expected form. The customer's code"]
