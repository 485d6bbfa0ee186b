"""The stylesheet's colours: every text/background pair meets WCAG AA in light and dark mode.

The colours live as custom properties at the top of static/css/panel.css (light values in
``:root``, dark ones under ``prefers-color-scheme: dark``); these tests read them from the
file, so changing a colour to one that fails contrast fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "panel.css"

# (text, background) pairs the stylesheet puts together.
TEXT_PAIRS = [
    ("--fg", "--bg"),
    ("--fg", "--surface"),
    ("--fg", "--surface-alt"),
    ("--muted", "--bg"),
    ("--muted", "--surface"),
    ("--link", "--bg"),
    ("--link", "--surface"),
    ("--link", "--primary-soft"),
    ("--primary-fg", "--primary"),
    ("--primary-fg", "--primary-hover"),
    ("--primary-fg", "--danger-strong"),
    ("--danger", "--surface"),
    ("--danger", "--bg"),
    ("--header-fg", "--header-bg"),
    ("--code-fg", "--code-bg"),
    ("--badge-fg", "--badge-bg"),
    ("--mark-fg", "--mark-bg"),
    ("--fg", "--chip-checked-bg"),
    ("--warning", "--warning-bg"),
    ("--state-success", "--state-success-bg"),
    ("--state-failed", "--state-failed-bg"),
    ("--state-running", "--state-running-bg"),
    ("--state-queued", "--state-queued-bg"),
    ("--state-other", "--state-other-bg"),
]
STATES = ["success", "failed", "running", "queued"]


def _block(css: str, start: int) -> str:
    """The text between the ``{`` at or after ``start`` and its matching ``}``."""
    opening = css.index("{", start)
    depth = 0
    for i in range(opening, len(css)):
        depth += {"{": 1, "}": -1}.get(css[i], 0)
        if depth == 0:
            return css[opening + 1 : i]
    raise AssertionError("unbalanced braces in panel.css")


def _colours(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def schemes() -> dict[str, dict[str, str]]:
    """scheme name -> custom property -> hex colour, as panel.css defines them."""
    css = CSS.read_text()
    light = _colours(_block(css, css.index(":root {")))
    dark_media = _block(css, css.index("@media (prefers-color-scheme: dark)"))
    dark = {**light, **_colours(_block(dark_media, dark_media.index(":root")))}
    return {"light": light, "dark": dark}


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_dark_scheme_redefines_every_colour() -> None:
    css = CSS.read_text()
    light = _colours(_block(css, css.index(":root {")))
    dark_media = _block(css, css.index("@media (prefers-color-scheme: dark)"))
    dark = _colours(_block(dark_media, dark_media.index(":root")))
    assert len(light) >= 30
    assert set(light) == set(dark)
    assert "color-scheme: light dark" in css


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("text", "background"), TEXT_PAIRS)
def test_text_meets_aa_contrast(scheme: str, text: str, background: str) -> None:
    colours = schemes()[scheme]
    ratio = contrast(colours[text], colours[background])
    assert ratio >= 4.5, f"{scheme}: {text} on {background} is {ratio:.2f}:1"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_states_stay_apart(scheme: str) -> None:
    """Each state's badge background differs from the others' and from the page."""
    colours = schemes()[scheme]
    backgrounds = [colours[f"--state-{s}-bg"] for s in STATES]
    assert len(set(backgrounds)) == len(STATES)
    assert colours["--bg"] not in backgrounds


def test_dark_mode_has_a_dark_page() -> None:
    dark = schemes()["dark"]
    assert luminance(dark["--bg"]) < 0.05
    assert luminance(dark["--fg"]) > 0.6


def test_rules_use_the_variables_not_literal_colours() -> None:
    """Below the colour definitions, rules name colours only through custom properties."""
    css = CSS.read_text()
    dark_media = css.index("@media (prefers-color-scheme: dark)")
    block = _block(css, dark_media)
    rules = css[css.index(block, dark_media) + len(block) :]
    assert "--bg:" not in rules
    literals = re.findall(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\b(?:white|black)\s*;", rules)
    assert literals == []
