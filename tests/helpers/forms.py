"""Reading the panel's HTML forms in tests: what a browser would post, what is labelled."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.test import Client

from tests.ui.browser_form import form_submission

SHOWCASE_URL = "/dags/prod/orders_etl/"


def form_data(client: Client, url: str = SHOWCASE_URL, **changes: Any) -> dict[str, Any]:
    """What the browser would post from the page as drawn, with ``changes``."""
    data: dict[str, Any] = form_submission(client.get(url).content.decode(), "trigger-form")
    data.pop("use_conf_json", None)
    data.pop("unpause", None)
    for name, value in changes.items():
        if value == [] or value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [value]
    return data


class FormControls(HTMLParser):
    """Collects the ids of form controls and of what labels point at, and counts forms."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labelled: set[str] = set()
        self.forms = 0
        self.csrf_tokens = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms += 1
        elif tag == "label" and attributes.get("for"):
            self.labelled.add(str(attributes["for"]))
        elif attributes.get("name") == "csrfmiddlewaretoken":
            self.csrf_tokens += 1
        elif tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append(str(attributes.get("id")))
