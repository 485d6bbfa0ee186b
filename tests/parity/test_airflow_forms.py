"""What Airflow's OWN trigger form sends, on Airflow 2.11 and 3.1.8 (the parity anchor).

Each test triggers Airflow's example DAGs through Airflow's UI in headless chromium
(tests/parity/airflow_forms.py) and checks the run's conf against the DAG's defaults as the
REST API reports them, with every place where the form sends something else spelled out.
Values are compared as JSON text, so ``3`` and ``3.0`` or ``"3"`` are different answers.
The full table is tests/parity/airflow_answers.md.

Run against the shared instances:
``TEST_AIRFLOW_URL=http://127.0.0.1:18080 TEST_AIRFLOW3_URL=http://127.0.0.1:18083
.venv/bin/pytest tests/parity -m airflow``
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.airflow import AirflowInstance, major_version
from tests.parity.airflow_forms import REQUIRED_TEXT, AirflowFormSession, Edit, session_for
from tests.parity.cases import GREETER, TUTORIAL, as_json, tutorial_edits

pytestmark = [pytest.mark.airflow]


def defaults(form: AirflowFormSession, dag_id: str) -> dict[str, Any]:
    """The DAG's param defaults as Airflow's REST API reports them."""
    return {name: param["value"] for name, param in form.dag_params(dag_id).items()}


def test_tutorial_defaults(form: AirflowFormSession) -> None:
    """Defaults, with only the required field typed in: the form sends exactly the REST
    defaults, every key (the hidden ``const`` field too), same JSON types, on 2.x and 3.x.

    - ``required_field`` (no default, ``type: string``): the default is null, which the
      form will not submit; typed text is sent as typed.
    - Untyped params keep their Python type: 2.x ``x`` 3 (integer), 3.x ``number_param`` 3.
    - Dates are sent as the DAG wrote them when untouched: ``date_time``
      ``"YYYY-MM-DDT12:17:00+00:00"``, ``date`` ``"YYYY-MM-DD"``, ``time`` ``"12:13:14"``
      (2.x renders the time field from a ``"1200-01-01 12:13:14"`` value but its picker
      sends back ``"12:13:14"``).
    - ``array_of_numbers`` stays numbers ``[1, 2, 3]``; ``multi_select_with_label`` stays
      strings ``["2", "3"]``; ``pick_with_label`` stays the number 3.
    - ``hidden_secret_field`` (``const``, not shown) is sent: ``"constant value"``.
    """
    expected = defaults(form, TUTORIAL) | {"required_field": REQUIRED_TEXT}
    conf = form.trigger(TUTORIAL, {})
    assert as_json(conf) == as_json(expected)


def test_greeter_defaults(form: AirflowFormSession) -> None:
    """``example_params_trigger_ui`` untouched: the defaults, as they are, on 2.x and 3.x."""
    conf = form.trigger(GREETER, {})
    assert as_json(conf) == as_json(defaults(form, GREETER))
    assert conf == {
        "names": ["Linda", "Martha", "Thomas"],
        "english": True,
        "german": True,
        "french": True,
    }


def test_greeter_edited(form: AirflowFormSession) -> None:
    """Names typed one per line and German unticked: the same answer on 2.x and 3.x."""
    conf = form.trigger(GREETER, {"names": Edit.typed("Ann\nBob"), "german": Edit.untick()})
    assert conf == {"names": ["Ann", "Bob"], "english": True, "german": False, "french": True}


def test_tutorial_edited(form: AirflowFormSession) -> None:
    """The edited set; what each version sends where it is not simply what was typed:

    - Numbers typed in number fields are JSON numbers on both: untyped int param ``7``,
      ``most_loved_number`` ``21``; 2.x ``checked_number`` (``type: number``) ``99.5``.
    - Cleared optional text and cleared untyped text: ``null`` on both (not ``""``, and the
      key stays in the conf).
    - Multi-selects: the chosen values in the order clicked, as strings, on both
      (``["one", "four"]``, ``["1", "5"]`` for the labelled one).
    - Multiline text: newlines and leading spaces kept on both.
    - JSON editors (``array_of_objects``, ``array_of_numbers``, ``object``): the parsed JSON
      on both, ``5.5`` stays a float, object keys as typed.
    - String array typed as lines ``"alpha\\n beta \\n\\ngamma"``: **they disagree**. 2.x trims
      each line and drops empty ones: ``["alpha", "beta", "gamma"]``; 3.x splits on newlines
      only: ``["alpha", " beta ", "", "gamma"]``.
    - ``bool`` unticked: ``false``; ``pick_one`` ``"value 17"``; ``pick_with_label`` the
      number ``7`` (not ``"7"``) on both.
    - ``date`` ``"2024-05-06"`` and ``time`` ``"07:08:09"`` on both.
    - ``date_time``: **they disagree**. 2.x sends the text as typed
      (``"2024-05-06T07:08:09+00:00"``); 3.x converts the picker's local time to UTC with
      milliseconds and ``Z``: ``"2024-05-06T07:08:00.000Z"`` (the browser runs in UTC here;
      the picker has no seconds). Untouched, 3.x sends the default unchanged
      (``+00:00``, no milliseconds).
    """
    major = major_version(form.version)
    expected = defaults(form, TUTORIAL) | {"required_field": REQUIRED_TEXT}
    common = {
        "most_loved_number": 21,
        "optional_field": None,
        "multi_select": ["one", "four"],
        "multi_select_with_label": ["1", "5"],
        "multiline_text": "first line\nsecond line\n  third indented",
        "array_of_objects": [{"name": "n1", "country": "c1"}, {"name": "n2"}],
        "array_of_numbers": [4, 5.5],
        "object": {"a": 1},
        "bool": False,
        "pick_one": "value 17",
        "pick_with_label": 7,
        "date": "2024-05-06",
        "time": "07:08:09",
    }
    if major >= 3:
        expected |= common | {
            "number_param": 7,
            "text_param": None,
            "list_param": ["alpha", " beta ", "", "gamma"],
            "date_time": "2024-05-06T07:08:00.000Z",
        }
    else:
        expected |= common | {
            "x": 7,
            "text": None,
            "a_simple_list": ["alpha", "beta", "gamma"],
            "date_time": "2024-05-06T07:08:09+00:00",
            "checked_number": 99.5,
        }
    conf = form.trigger(TUTORIAL, tutorial_edits(major))
    assert as_json(conf) == as_json(expected)
    assert form.last_form_json == conf  # the conf box showed what was sent


def test_airflow3_time_without_seconds_is_refused(browser: Any, airflow3: AirflowInstance) -> None:
    """3.x: a time picked without seconds (``07:08``) is sent as ``"07:08"``, which
    Airflow's own ``format: time`` validation refuses (400): the form lets the user submit
    a value its server rejects. Not an answer the panel should copy."""
    from tests.parity.airflow_forms import AirflowFormError

    form = session_for(browser, airflow3.url, airflow3.version)
    with pytest.raises(AirflowFormError, match="'07:08' is not a 'time'"):
        form.trigger(TUTORIAL, {"time": Edit.datetime("07:08")})
