"""Mail templates: ``templates/<kind>.txt`` (a ``Subject:`` line, a blank line, the text)
and ``templates/<kind>.html`` (the HTML body), filled with ``string.Template``.

Every value is text; the HTML body gets each value escaped. A template naming a value
the mail does not have fails loudly (``KeyError``), never sends a mail with a hole.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def _templates(kind: str) -> tuple[Template, Template, Template]:
    text = (TEMPLATES / f"{kind}.txt").read_text()
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject: "):
        raise ValueError(f"templates/{kind}.txt must start with a 'Subject: ' line")
    html_body = (TEMPLATES / f"{kind}.html").read_text()
    return Template(head.removeprefix("Subject: ")), Template(body), Template(html_body)


def kinds() -> list[str]:
    """Every kind of mail there is a template for."""
    return sorted(p.stem for p in TEMPLATES.glob("*.txt"))


def render_mail(kind: str, values: Mapping[str, str]) -> RenderedMail:
    """The subject, text and HTML of a ``kind`` mail filled with ``values``."""
    subject, text, html_body = _templates(kind)
    escaped = {k: html.escape(v).replace("\n", "<br>\n") for k, v in values.items()}
    return RenderedMail(
        subject=subject.substitute(values).strip(),
        text=text.substitute(values),
        html=html_body.substitute(escaped),
    )
