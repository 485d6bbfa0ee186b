"""The trigger form's widgets in a real browser, on Airflow's own params tutorial DAG.

Headless Debian chromium (Playwright) against a live panel whose catalog was read from the
real Airflow 2.11 harness, where ``example_params_ui_tutorial`` is Airflow's own example
file (copied from the installed package). Each test does what an operator would: type,
click, press keys, and looks at what the page shows and what Airflow received.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from controlpanel.models import AirflowProfile, Run
from controlpanel.services import catalog
from dags_api import AirflowClient
from tests.helpers.browser import SHOTS, expect, logged_in, person
from tests.helpers.profiles import harness_with_catalog as _harness

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

TUTORIAL = "example_params_ui_tutorial"


@pytest.fixture
def tutorial(airflow: Any) -> AirflowProfile:
    """The harness profile with the tutorial DAG's params, order and docs in the catalog."""
    profile = _harness(airflow)
    catalog.refresh_dag(profile, TUTORIAL)
    return profile


def open_form(browser: Any, live_server: Any, profile: AirflowProfile) -> Any:
    person("operator", profile, "trigger", dag_ids=[TUTORIAL])
    page = logged_in(browser, live_server.url, "operator")
    page.goto(f"{live_server.url}/dags/{profile.slug}/{TUTORIAL}/")
    return page


def conf_box(page: Any) -> dict[str, Any]:
    return dict(json.loads(page.locator("#conf_json").input_value()))


def wait_for_conf(page: Any, key: str, value: Any) -> None:
    """Until the live preview shows ``key: value`` (it follows edits after a short pause)."""
    page.wait_for_function(
        "([key, value]) => { try { return JSON.stringify(JSON.parse("
        "document.getElementById('conf_json').value)[key]) === value }"
        " catch (e) { return false } }",
        arg=[key, json.dumps(value, separators=(",", ":"))],
        timeout=10_000,
    )


def test_fields_follow_the_authors_order_and_the_docs_are_shown(
    browser: Any, live_server: Any, tutorial: AirflowProfile
) -> None:
    page = open_form(browser, live_server, tutorial)
    names = page.locator("#param-fields [data-param]").evaluate_all(
        "rows => rows.map(r => r.dataset.param)"
    )
    # Airflow 2's API sorts params by name; the author wrote x, text, flag, a_simple_list ...
    assert names[:4] == ["x", "text", "flag", "a_simple_list"], names
    assert names.index("checked_text") > names.index("optional_field")
    docs = page.locator("details.dag-docs")
    expect(docs).to_contain_text("DAG demonstrating various options for a trigger form")
    expect(docs.locator("code", has_text="params")).to_be_visible()  # markdown, not backticks
    page.set_viewport_size({"width": 1280, "height": 2400})
    page.screenshot(path=str(SHOTS / "trigger-form.png"), full_page=True)


def test_multiline_keeps_its_newlines_and_the_required_field_blocks_the_trigger(
    browser: Any, live_server: Any, tutorial: AirflowProfile
) -> None:
    page = open_form(browser, live_server, tutorial)
    multiline = page.locator("#param__multiline_text")
    assert multiline.evaluate("e => e.tagName") == "TEXTAREA"
    assert multiline.input_value().count("\n") == 2

    required = page.locator("#param__required_field")
    assert required.get_attribute("required") is not None
    expect(page.locator("label[for=param__required_field] .required-mark")).to_be_visible()
    page.get_by_role("button", name="Trigger run").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Required text field")).to_be_visible()
    assert Run.objects.count() == 0 and "/runs/" not in page.url
    summary.get_by_role("link", name="Required text field").click()
    expect(required).to_be_focused()


def test_the_server_blocks_an_empty_required_field_too(
    browser: Any, live_server: Any, tutorial: AirflowProfile
) -> None:
    page = open_form(browser, live_server, tutorial)
    page.evaluate("document.getElementById('param__required_field').removeAttribute('required')")
    page.get_by_role("button", name="Trigger run").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Required text field")
    expect(summary).to_contain_text("This field is required.")
    expect(summary).to_be_focused()
    assert Run.objects.count() == 0


def test_suggestions_and_chips_work_without_ctrl_and_by_keyboard(
    browser: Any, live_server: Any, tutorial: AirflowProfile
) -> None:
    page = open_form(browser, live_server, tutorial)
    proposals = page.locator("#param__proposals")
    assert proposals.get_attribute("list") == "param__proposals_suggestions"
    options = page.locator("#param__proposals_suggestions option").evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert options[:3] == ["Alpha", "Bravo", "Charlie"] and len(options) == 26

    chips = page.locator("#param__multi_select")
    assert chips.get_by_label("two").is_checked() and chips.get_by_label("three").is_checked()
    chips.get_by_text("one", exact=True).click()  # a plain click adds, keeps the others
    wait_for_conf(page, "multi_select", ["one", "two", "three"])
    chips.get_by_label("two").focus()
    page.keyboard.press("Space")  # keyboard: Tab to a chip, Space toggles it
    wait_for_conf(page, "multi_select", ["one", "three"])
    labelled = page.locator("#param__multi_select_with_label")
    expect(labelled.get_by_text("Two bananas")).to_be_visible()


def test_json_editor_checks_syntax_and_the_preview_and_json_box_stay_in_sync(
    browser: Any, live_server: Any, tutorial: AirflowProfile
) -> None:
    page = open_form(browser, live_server, tutorial)
    page.get_by_text("Generated conf (JSON)").click()
    objects = page.locator("#param__array_of_objects")
    objects.fill('[{"name": "acme", ')
    row = page.locator("[data-param=array_of_objects]")
    expect(row.locator(".json-status")).to_contain_text("Not valid JSON yet")
    objects.fill('[{"name": "acme", "country_name": "NL"}]')
    expect(row.locator(".json-status")).to_have_text("Valid JSON.")
    wait_for_conf(page, "array_of_objects", [{"name": "acme", "country_name": "NL"}])

    page.locator("#param__x").fill("5")
    wait_for_conf(page, "x", 5)
    expect(page.locator("#api-call")).to_contain_text('"x": 5')
    expect(page.locator("#api-call")).to_contain_text("curl -X POST")

    # Edit the JSON: the fields follow, and a key that is not a param is kept.
    edited = conf_box(page) | {"text": "from the JSON box", "extra_key": [1, 2]}
    page.locator("#conf_json").fill(json.dumps(edited, indent=2))
    expect(page.locator("#param__text")).to_have_value("from the JSON box", timeout=10_000)
    # ...and a field edited after that still keeps the extra key in the JSON.
    page.locator("#param__x").fill("6")
    wait_for_conf(page, "x", 6)
    assert conf_box(page)["extra_key"] == [1, 2]
    assert conf_box(page)["text"] == "from the JSON box"


def test_triggered_conf_is_what_the_preview_showed(
    browser: Any,
    live_server: Any,
    tutorial: AirflowProfile,
    admin_client: AirflowClient,
) -> None:
    page = open_form(browser, live_server, tutorial)
    page.locator("#param__required_field").fill("filled by a person")
    page.locator("#param__array_of_numbers").fill("1\n2\n3.5")
    page.locator("#param__text").fill("")  # an emptied untyped param is sent as null
    wait_for_conf(page, "text", None)
    shown = conf_box(page)
    page.get_by_role("button", name="Trigger run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run = Run.objects.get(dag_id=TUTORIAL)
    sent = admin_client.get_dag_run(TUTORIAL, run.dag_run_id).conf
    assert sent == shown
    assert sent["array_of_numbers"] == [1, 2, 3.5] and isinstance(sent["x"], int)
    assert sent["multiline_text"].count("\n") == 2 and "\r" not in sent["multiline_text"]
    assert sent["text"] is None and sent["required_field"] == "filled by a person"
    assert sent["hidden_secret_field"] == "constant value"
