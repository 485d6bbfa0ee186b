"""Markdown written by DAG authors (``doc_md``, ``description_md``) as safe HTML.

CommonMark (markdown-it-py) with raw HTML switched off: any tag in the text is shown as
text, link targets that could run code (``javascript:``, ``data:`` ...) are refused by the
parser, and every link opens without handing the panel to the target (``rel=noopener``).
Headings move down two levels so a DAG's ``# Title`` sits under the page's own headings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

HEADING_SHIFT = 2


def _link_open(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer")
    return str(renderer.renderToken(tokens, idx, options, env))


def _heading(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    level = min(6, int(tokens[idx].tag[1:]) + HEADING_SHIFT)
    tokens[idx].tag = f"h{level}"
    return str(renderer.renderToken(tokens, idx, options, env))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": False}).enable("table")
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("heading_open", _heading)
    md.add_render_rule("heading_close", _heading)
    return md


_MD = _parser()


def render_markdown(text: str | None) -> str:
    """A block of markdown (a DAG's documentation) as safe HTML; empty text gives ""."""
    return _MD.render(text or "").strip() if (text or "").strip() else ""


def render_inline_markdown(text: str | None) -> str:
    """One paragraph of markdown (a field's help) as safe HTML without a wrapping <p>."""
    return _MD.renderInline(text or "").strip()
