"""Highlights: matched words marked by the engines, turned into safe HTML."""

from __future__ import annotations

import html

from evently.search.models import MARK_END, MARK_START


def marked_to_html(text: str) -> str:
    """Escape ``text`` for HTML, then turn the highlight marks into ``<em>`` tags."""
    return html.escape(text).replace(MARK_START, "<em>").replace(MARK_END, "</em>")


def highlights_from_marked(fields: dict[str, str | None]) -> dict[str, str]:
    """Keep the fields where something was highlighted, as safe HTML."""
    return {
        name: marked_to_html(text) for name, text in fields.items() if text and MARK_START in text
    }
