"""What a browser posts for a form as drawn: its successful controls, read with html.parser.

Follows the HTML rules that matter to the trigger form: unchecked boxes post nothing, ticked
boxes sharing a name post one value each, a textarea drops the newline right after its
start tag, a select posts its selected options (or, single, its first one when none is
selected), and disabled controls and buttons post nothing.
"""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside or "disabled" in a:
            return
        if tag == "input":
            self._input(a)
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self._select is not None:
            self._select["options"].append((a.get("value", ""), "selected" in a))

    def _input(self, a: dict[str, str]) -> None:
        kind = a.get("type", "text").lower()
        name = a.get("name")
        if not name or kind in ("submit", "button", "reset", "image", "file"):
            return
        if kind in ("checkbox", "radio"):
            if "checked" in a:
                self.pairs.append((name, a.get("value", "on")))
            return
        self.pairs.append((name, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            text = text[1:] if text.startswith("\n") else text
            # Browsers post a textarea's line breaks as CRLF.
            self.pairs.append((self._textarea, text.replace("\r\n", "\n").replace("\n", "\r\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = [v for v, selected in options if selected]
            if not chosen and options and not self._select["multiple"]:
                chosen = [options[0][0]]
            self.pairs += [(self._select["name"], v) for v in chosen]
            self._select = None


def form_submission(page: str, form_id: str) -> dict[str, list[str]]:
    """name -> posted values of the form with ``id=form_id`` in the page's HTML."""
    reader = _FormReader(form_id)
    reader.feed(page)
    posted: dict[str, list[str]] = {}
    for name, value in reader.pairs:
        posted.setdefault(html_lib.unescape(name), []).append(value)
    return posted
