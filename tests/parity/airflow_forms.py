"""Drive Airflow's OWN trigger form in a real browser and read back the conf the run got.

This is the reference the panel's trigger form is compared against: for a DAG and a set of
human edits (type this, clear that, untick, pick these options, replace the JSON, set a
date), what does Airflow's UI put in the run's ``conf``?

- Airflow 2 (Flask): ``/dags/<id>/trigger`` (jQuery, select2, CodeMirror 5); what is posted
  is the generated JSON ``conf`` that ``trigger.js`` rebuilds from the fields on blur/change.
- Airflow 3 (React): the "Trigger" dialog on the DAG page ("Run Parameters" sections, the
  "Advanced Options" with run id and the JSON conf editor, CodeMirror 6).

The driver only uses the UI like a person (fill, click, pick from drop-downs, press keys);
the REST API is used to read the DAG's params (to know which fields are required and the
labels of enum values) and the new run's conf. Both forms come with "Unpause DAG when
triggered" ticked for a paused DAG: the driver unticks it, so the run stays queued.

One login per browser context and Airflow (``AirflowFormSession``); a trigger then takes
1.5-2 s on Airflow 2 and 3-8 s on Airflow 3 with defaults, 5.5 s and 12.5 s
for a dozen edits (measured times in tests/parity/airflow_answers.md).

Script mode prints the conf as JSON::

    python -m tests.parity.airflow_forms --url http://127.0.0.1:18080 --version 2.11.0 \\
        --dag example_params_ui_tutorial [--edit 'x=type:7' --edit 'flag=tick' ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Typed into required fields without a default that no edit covers (10 to 30 characters:
# Airflow 3's tutorial asks for a length between 10 and 30).
REQUIRED_TEXT = "required text value"
ACTION_TIMEOUT_MS = 20_000


class AirflowFormError(RuntimeError):
    """Airflow's form refused the trigger or did not behave as expected."""


@dataclass(frozen=True)
class Edit:
    """What a person does in one field of the trigger form.

    ``typed(text)``: replace the field's text (inputs, number inputs, text areas; for string
    arrays one value per line). ``clear()``: empty the field. ``tick()``/``untick()``: a
    boolean switch. ``choose(*values)``: the option(s) of a drop-down or multi-select, given
    as the technical values (the driver clicks their displayed labels); ``choose()`` with no
    value empties a multi-select. ``json(text)``: replace the text of a JSON editor.
    ``datetime(text)``: type into a date, time or date-time picker, in the input's own format
    (Airflow 2: free text such as ``2024-05-06T07:08:09+00:00``; Airflow 3: the browser's
    ``datetime-local``/``date``/``time`` formats, ``2024-05-06T07:08``, ``2024-05-06``,
    ``07:08:09``).
    """

    action: str
    text: str = ""
    values: tuple[Any, ...] = ()

    @classmethod
    def typed(cls, text: str) -> Edit:
        return cls("type", text=text)

    @classmethod
    def clear(cls) -> Edit:
        return cls("clear")

    @classmethod
    def tick(cls) -> Edit:
        return cls("tick")

    @classmethod
    def untick(cls) -> Edit:
        return cls("untick")

    @classmethod
    def choose(cls, *values: Any) -> Edit:
        return cls("choose", values=tuple(values))

    @classmethod
    def json(cls, text: str) -> Edit:
        return cls("json", text=text)

    @classmethod
    def datetime(cls, text: str) -> Edit:
        return cls("datetime", text=text)

    @classmethod
    def parse(cls, spec: str) -> tuple[str, Edit]:
        """``name=action[:argument]`` from the command line, e.g. ``x=type:7``,
        ``flag=tick``, ``multi_select=choose:one,four``, ``object=json:{"a": 1}``."""
        name, _, rest = spec.partition("=")
        action, _, argument = rest.partition(":")
        if action == "choose":
            return name, cls.choose(*[v for v in argument.split(",") if v])
        if action in ("clear", "tick", "untick"):
            return name, cls(action)
        if action in ("type", "json", "datetime"):
            return name, cls(action, text=argument.replace("\\n", "\n"))
        raise ValueError(f"unknown edit action in {spec!r}")


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _label(schema: Mapping[str, Any], value: Any) -> str:
    """The text a person sees for an option value (``values_display`` keys are strings)."""
    display = schema.get("values_display") or {}
    key = "None" if value is None else str(value)
    return str(display.get(key, key))


@dataclass
class TriggerTiming:
    """Seconds spent in one trigger: opening the form, editing, submitting, reading back."""

    open_form: float = 0.0
    edit: float = 0.0
    submit: float = 0.0
    read_back: float = 0.0

    @property
    def total(self) -> float:
        return self.open_form + self.edit + self.submit + self.read_back


@dataclass
class AirflowFormSession:
    """A logged-in browser context on one Airflow; ``trigger`` submits its own form."""

    browser: Any
    url: str
    version: str
    user: str = "admin"
    password: str | None = None
    timeout_ms: int = ACTION_TIMEOUT_MS
    last_timing: TriggerTiming = field(default_factory=TriggerTiming)
    login_seconds: float = 0.0
    # The conf the form showed in its JSON box just before submitting (for diagnostics).
    last_form_json: dict[str, Any] | None = None
    _context: Any = None
    _page: Any = None
    _token: str | None = None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if self.password is None:
            from tests.harness.airflow import USERS

            self.password = USERS[self.user][0]

    @property
    def major(self) -> int:
        return _major(self.version)

    # -- session ---------------------------------------------------------------------------

    def _ensure_logged_in(self) -> Any:
        if self._page is not None:
            return self._page
        started = time.monotonic()
        self._context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self._context.set_default_timeout(self.timeout_ms)
        page = self._context.new_page()
        if self.major >= 3:
            page.goto(f"{self.url}/")
            page.get_by_label("Username").fill(self.user)
            page.get_by_label("Password").fill(self.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
            page.get_by_role("link", name="Dags").first.wait_for()
        else:
            page.goto(f"{self.url}/login/")
            page.fill("#username", self.user)
            page.fill("#password", self.password)
            page.locator("input[type=submit], button[type=submit]").first.click()
            page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
        self._page = page
        self.login_seconds = time.monotonic() - started
        return page

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
        self._context = self._page = None

    # -- REST reads (never used to trigger) -------------------------------------------------

    def _api(self, path: str) -> Any:
        self._ensure_logged_in()
        request = self._context.request
        if self.major >= 3:
            if self._token is None:
                answer = request.post(
                    f"{self.url}/auth/token",
                    data={"username": self.user, "password": self.password},
                )
                if not answer.ok:
                    raise AirflowFormError(f"token: {answer.status} {answer.text()}")
                self._token = answer.json()["access_token"]
            answer = request.get(
                f"{self.url}/api/v2{path}", headers={"Authorization": f"Bearer {self._token}"}
            )
        else:  # the UI's session cookie is accepted by /api/v1 (session auth backend)
            answer = request.get(f"{self.url}/api/v1{path}")
        if not answer.ok:
            raise AirflowFormError(f"GET {path}: {answer.status} {answer.text()[:300]}")
        return answer.json()

    def dag_params(self, dag_id: str) -> dict[str, Any]:
        """The DAG's params as the REST API describes them (value, schema)."""
        params: dict[str, Any] = self._api(f"/dags/{quote(dag_id)}/details")["params"] or {}
        return params

    def run_conf(self, dag_id: str, run_id: str) -> dict[str, Any]:
        conf: dict[str, Any] = self._api(f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}")["conf"]
        return conf

    # -- the trigger -----------------------------------------------------------------------

    def trigger(
        self,
        dag_id: str,
        edits: Mapping[str, Edit] | None = None,
        *,
        run_id: str | None = None,
        required_text: str = REQUIRED_TEXT,
    ) -> dict[str, Any]:
        """Open ``dag_id``'s trigger form, apply ``edits``, fill required fields that have no
        default with ``required_text``, submit, and return the new run's conf."""
        edits = dict(edits or {})
        params = self.dag_params(dag_id)
        for name, param in params.items():
            schema = param.get("schema") or {}
            types = _types(schema)
            if param.get("value") is None and types and "null" not in types and name not in edits:
                if "string" not in types:
                    raise AirflowFormError(f"required param {name} ({types}) needs an edit")
                edits[name] = Edit.typed(required_text)
        unknown = set(edits) - set(params)
        if unknown:
            raise AirflowFormError(f"no such params in {dag_id}: {sorted(unknown)}")
        run_id = run_id or f"parity_{uuid.uuid4().hex[:12]}"
        timing = TriggerTiming()
        page = self._ensure_logged_in()
        form: _Form = _Airflow3Form(page) if self.major >= 3 else _Airflow2Form(page)
        started = time.monotonic()
        form.open(self.url, dag_id)
        timing.open_form = time.monotonic() - started
        started = time.monotonic()
        for name, edit in edits.items():
            form.apply(name, edit, (params[name].get("schema") or {}))
        timing.edit = time.monotonic() - started
        started = time.monotonic()
        self.last_form_json = form.submit(run_id)
        timing.submit = time.monotonic() - started
        started = time.monotonic()
        conf = self.run_conf(dag_id, run_id)
        timing.read_back = time.monotonic() - started
        self.last_timing = timing
        return conf


def _replace_code(page: Any, editor: Any, name: str, edit: Edit) -> None:
    """Type ``edit``'s JSON into a code editor (CodeMirror on 2.x and 3.x) in place of its text."""
    if edit.action not in ("json", "clear", "type"):
        raise AirflowFormError(f"{name} is a JSON editor: use Edit.json")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    if edit.action != "clear":
        page.keyboard.insert_text(edit.text)
        # the editor may have closed brackets on its own: drop what follows the cursor
        page.keyboard.press("Control+Shift+End")
        page.keyboard.press("Delete")


class _Form:
    """One version's trigger form on a logged-in page."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self, url: str, dag_id: str) -> None:
        raise NotImplementedError

    def apply(self, name: str, edit: Edit, schema: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def submit(self, run_id: str) -> dict[str, Any] | None:
        raise NotImplementedError


class _Airflow2Form(_Form):
    """``/dags/<id>/trigger`` of the Flask UI."""

    def open(self, url: str, dag_id: str) -> None:
        page = self.page
        page.goto(f"{url}/dags/{quote(dag_id)}/trigger")
        page.locator("#trigger_form").wait_for()
        # trigger.js builds the generated JSON 100 ms after load; wait for select2 and it.
        page.wait_for_function("() => typeof window.updateJSONconf === 'function'")
        page.wait_for_function(
            "() => !document.querySelector('select[name^=element_]') ||"
            " document.querySelector('.select2-container') !== null"
        )

    def _neutral_click(self) -> None:
        """Click the page title: the focused field blurs (trigger.js updates the JSON)."""
        self.page.locator("h2").first.click(position={"x": 2, "y": 2})

    def _reveal(self, locator: Any) -> None:
        """Open the collapsed section holding ``locator`` by clicking its title."""
        if locator.is_visible():
            return
        panel_id = locator.evaluate(
            "e => { const p = e.closest('.panel-collapse'); return p ? p.id : null; }"
        )
        if panel_id:
            self.page.locator(f"a[href='#{panel_id}']").click()
            self.page.locator(f"#{panel_id}").wait_for(state="visible")
            self.page.wait_for_function(
                f"() => !document.getElementById('{panel_id}').classList.contains('collapsing')"
            )

    def apply(self, name: str, edit: Edit, schema: Mapping[str, Any]) -> None:
        page = self.page
        element = page.locator(f"#element_{name}")
        if element.count() == 0:
            raise AirflowFormError(f"no form field for {name} (hidden const param?)")
        tag, kind, valuetype = element.evaluate(
            "e => [e.tagName, e.type, e.getAttribute('valuetype')]"
        )
        if valuetype in ("object", "advancedarray"):
            editor = page.locator(f"#element_{name} + .CodeMirror")
            self._reveal(editor)
            _replace_code(page, editor, name, edit)
            self._neutral_click()
            return
        if tag == "SELECT":
            container = page.locator(f"#element_{name} + .select2-container")
            self._reveal(container)
            if edit.action not in ("choose", "clear"):
                raise AirflowFormError(f"{name} is a drop-down: use Edit.choose")
            wanted = [_label(schema, value) for value in edit.values]
            if kind == "select-multiple":
                self._choose_many(name, container, wanted)
            else:
                if len(wanted) != 1:
                    raise AirflowFormError(f"{name} takes one value")
                container.locator(".select2-selection").click()
                page.locator(".select2-container--open .select2-results__option").filter(
                    has_text=re.compile(rf"^\s*{re.escape(wanted[0])}\s*$")
                ).click()
            self._neutral_click()
            return
        self._reveal(element)
        if kind == "checkbox":
            if edit.action not in ("tick", "untick"):
                raise AirflowFormError(f"{name} is a switch: use tick/untick")
            want = edit.action == "tick"
            if element.is_checked() != want:
                page.locator(f"label:has(> #element_{name})").click()
            if element.is_checked() != want:
                raise AirflowFormError(f"{name} did not change to {want}")
            return
        if edit.action == "clear":
            element.fill("")
        elif edit.action in ("type", "datetime", "json"):
            element.fill(edit.text)
        else:
            raise AirflowFormError(f"{name} is a text field: {edit.action} does not apply")
        # A date picker pops up over the form: Escape closes it like a person would.
        if valuetype == "date":
            page.keyboard.press("Escape")
        self._neutral_click()

    def _choose_many(self, name: str, container: Any, wanted: list[str]) -> None:
        page = self.page
        chips = container.locator(".select2-selection__choice")
        for title in chips.evaluate_all("cs => cs.map(c => c.getAttribute('title'))"):
            if title not in wanted:
                chip = container.locator(f".select2-selection__choice[title={json.dumps(title)}]")
                chip.locator(".select2-selection__choice__remove").click()
                # removing a chip opens the drop-down in select2 4.0: close it
                page.keyboard.press("Escape")
        for label in wanted:
            present = chips.evaluate_all("cs => cs.map(c => c.getAttribute('title'))")
            if label in present:
                continue
            search = container.locator(".select2-search__field")
            search.click()
            search.press_sequentially(label)
            page.locator(".select2-container--open .select2-results__option").filter(
                has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")
            ).click()
            page.keyboard.press("Escape")
        present = chips.evaluate_all("cs => cs.map(c => c.getAttribute('title'))")
        if sorted(present) != sorted(wanted):
            raise AirflowFormError(f"{name}: chose {present}, wanted {wanted}")

    def submit(self, run_id: str) -> dict[str, Any] | None:
        page = self.page
        toggle = page.locator("#generated_json_toggle")
        run_id_field = page.locator("#run_id")
        if not run_id_field.is_visible():
            toggle.click()
            run_id_field.wait_for(state="visible")
        run_id_field.fill(run_id)
        unpause = page.locator("#unpause")
        if unpause.count() and unpause.is_checked():
            page.locator("label:has(> #unpause)").click()
            if unpause.is_checked():
                raise AirflowFormError("could not untick 'Unpause DAG when triggered'")
        shown = page.evaluate(
            "() => document.querySelector('#json + .CodeMirror').CodeMirror.getValue()"
        )
        page.get_by_role("button", name="Trigger", exact=True).click()
        page.wait_for_load_state("domcontentloaded")
        flashes = page.locator(".alert").all_inner_texts()
        if not any(f"Run ID {run_id}" in text for text in flashes):
            raise AirflowFormError(f"trigger refused: {flashes or page.url}")
        try:
            result: dict[str, Any] = json.loads(shown)
        except ValueError:
            return None
        return result


class _Airflow3Form(_Form):
    """The trigger dialog of the React UI (Airflow 3)."""

    def open(self, url: str, dag_id: str) -> None:
        page = self.page
        page.goto(f"{url}/dags/{quote(dag_id)}")
        page.get_by_role("button", name="Trigger").first.click()
        self.dialog = page.get_by_role("dialog")
        self.dialog.get_by_text("Run Parameters").wait_for()
        self.dialog.locator("[name=dagRunId]").wait_for(state="attached")

    def _reveal(self, selector: str) -> Any:
        """The dialog's element at ``selector``, opening its section first if it is closed
        (the sections are an accordion: opening one closes the others)."""
        target = self.dialog.locator(selector).first
        if target.count() and not target.is_visible():
            section = self.dialog.locator("[data-scope=accordion][data-part=item]").filter(
                has=self.page.locator(selector)
            )
            section.locator("button[data-part=item-trigger]").first.click()
            target.wait_for(state="visible")
        return target

    def apply(self, name: str, edit: Edit, schema: Mapping[str, Any]) -> None:
        page = self.page
        dialog = self.dialog
        editor = self._reveal(f"div.cm-theme[id='element_{name}'] .cm-content")
        if editor.count():
            _replace_code(page, editor, name, edit)
            self._blur()
            return
        select = self._reveal(f"[id='select:element_{name}:trigger']")
        if select.count():
            if edit.action == "clear" or (edit.action == "choose" and not edit.values):
                dialog.locator(f"[id='select:element_{name}:clear-trigger']").click()
                return
            if edit.action != "choose" or len(edit.values) != 1:
                raise AirflowFormError(f"{name} is a drop-down: use Edit.choose(value)")
            select.click()
            page.get_by_role("option", name=_label(schema, edit.values[0]), exact=True).click()
            return
        multi = self._reveal(f"div[id='element_{name}']:has(input[role=combobox])")
        if multi.count():
            if edit.action not in ("choose", "clear"):
                raise AirflowFormError(f"{name} is a multi-select: use Edit.choose")
            wanted = [_label(schema, value) for value in edit.values]
            removers = multi.locator("[aria-label^='Remove ']")

            def chosen() -> list[str]:
                labels = removers.evaluate_all("rs => rs.map(r => r.getAttribute('aria-label'))")
                return [label.removeprefix("Remove ") for label in labels]

            for label in chosen():
                if label not in wanted:
                    multi.locator(f"[aria-label={json.dumps('Remove ' + label)}]").click()
            combobox = multi.locator("input[role=combobox]")
            for label in wanted:
                if label not in chosen():
                    combobox.click()
                    page.get_by_role("option", name=label, exact=True).click()
            self._blur()
            if chosen() != wanted:
                raise AirflowFormError(f"{name}: chose {chosen()}, wanted {wanted}")
            return
        switch = self._reveal(f"label[id='switch:element_{name}']")
        if switch.count():
            if edit.action not in ("tick", "untick"):
                raise AirflowFormError(f"{name} is a switch: use tick/untick")
            want = edit.action == "tick"
            box = switch.locator("input[type=checkbox]")
            if box.is_checked() != want:
                switch.click()
            if box.is_checked() != want:
                raise AirflowFormError(f"{name} did not change to {want}")
            return
        field = self._reveal(f"[name='element_{name}']")
        if field.count() == 0:
            raise AirflowFormError(f"no form field for {name} (hidden const param?)")
        if edit.action == "clear":
            field.fill("")
        elif edit.action in ("type", "datetime", "json"):
            field.fill(edit.text)
        else:
            raise AirflowFormError(f"{name} is a text field: {edit.action} does not apply")
        self._blur()

    def _blur(self) -> None:
        """Click the dialog's title so the focused field commits its value."""
        self.dialog.get_by_role("heading").first.click()

    def submit(self, run_id: str) -> dict[str, Any] | None:
        page = self.page
        dialog = self.dialog
        self._reveal("input[name=dagRunId]").fill(run_id)
        unpause = dialog.locator("label[data-scope=checkbox]").filter(has_text="Unpause")
        if unpause.count():
            box = unpause.locator("input[type=checkbox]")
            # React re-renders the dialog as it settles: a click can land on the old node.
            for _ in range(3):
                if not box.is_checked():
                    break
                unpause.click()
                settled = time.monotonic() + 2
                while box.is_checked() and time.monotonic() < settled:
                    time.sleep(0.1)
            if box.is_checked():
                raise AirflowFormError("could not untick 'Unpause ... on trigger'")
        editors = dialog.locator(".cm-content")
        shown = editors.last.inner_text()
        button = dialog.get_by_role("button", name="Trigger", exact=True)
        if button.is_disabled():
            problems = dialog.locator("[data-part=error-text], .chakra-alert").all_inner_texts()
            raise AirflowFormError(f"the Trigger button is disabled: {problems}")
        with page.expect_response(
            lambda r: r.request.method == "POST" and "/dagRuns" in r.url
        ) as posted:
            button.click()
        response = posted.value
        if not response.ok:
            raise AirflowFormError(f"trigger refused: {response.status} {response.text()[:500]}")
        dialog.wait_for(state="hidden")
        try:
            result: dict[str, Any] = json.loads(shown)
        except ValueError:
            return None
        return result


# -- convenience: one session per (browser, Airflow, user) ---------------------------------

_SESSIONS: dict[tuple[int, str, str], AirflowFormSession] = {}


def session_for(
    browser: Any, instance_url: str, version: str, user: str = "admin"
) -> AirflowFormSession:
    """The logged-in session for this browser and Airflow (created and cached on first use)."""
    key = (id(browser), instance_url.rstrip("/"), user)
    session = _SESSIONS.get(key)
    if session is None or session.browser is not browser or not browser.is_connected():
        session = AirflowFormSession(browser, instance_url, version, user=user)
        _SESSIONS[key] = session
    return session


def trigger_with_airflow_form(
    browser: Any,
    instance_url: str,
    version: str,
    dag_id: str,
    edits: Mapping[str, Edit] | None = None,
    *,
    run_id: str | None = None,
    user: str = "admin",
) -> dict[str, Any]:
    """Trigger ``dag_id`` through Airflow's own form with ``edits``; the run's conf."""
    return session_for(browser, instance_url, version, user).trigger(dag_id, edits, run_id=run_id)


def launch_browser(playwright: Any) -> Any:
    """Debian's headless chromium, as the project's browser tests launch it."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Airflow's base URL")
    parser.add_argument("--version", required=True, help="Airflow's version, e.g. 2.11.0")
    parser.add_argument("--dag", required=True, help="the DAG id")
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--edit",
        action="append",
        default=[],
        metavar="NAME=ACTION[:ARG]",
        help="e.g. x=type:7, flag=tick, multi_select=choose:one,four, object=json:{}",
    )
    args = parser.parse_args(argv)
    edits = dict(Edit.parse(spec) for spec in args.edit)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            session = AirflowFormSession(browser, args.url, args.version, user=args.user)
            conf = session.trigger(args.dag, edits)
            timing = session.last_timing
            print(json.dumps(conf, indent=2, ensure_ascii=False))
            print(
                f"login {session.login_seconds:.2f} s, trigger {timing.total:.2f} s "
                f"(open {timing.open_form:.2f}, edit {timing.edit:.2f}, "
                f"submit {timing.submit:.2f}, read {timing.read_back:.2f})",
                file=sys.stderr,
            )
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
