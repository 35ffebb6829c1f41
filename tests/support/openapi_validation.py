"""Does a real response match what the service's OpenAPI document declares?

``validate_response`` is the one check, shared by the suite-wide pytest hook
(``tests/support/response_checks.py``, every response the suite sees) and by fuzzing
runs that generate their own traffic. It returns the problems found, empty when the
response is what the document promises: a documented operation, a declared status, a
declared media type, and a body valid against that media type's JSON schema.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_BASE_URI = "urn:evently:openapi"
# Media types whose bodies are JSON and validated against their schema.
_JSON_SUFFIXES = ("/json", "+json")


def validate_response(
    document: dict[str, Any],
    method: str,
    path_template: str,
    status: int,
    content_type: str | None,
    body: bytes | str | None,
) -> list[str]:
    """Problems with one response to ``method path_template`` (empty when it conforms).

    ``path_template`` is the documented path (``/api/v1/bookings/{id}``), ``content_type``
    the response's media type (parameters such as ``charset`` are ignored) and ``body``
    the raw body; ``None`` for a body that is streamed and not checked.
    """
    where = f"{method.upper()} {path_template} -> {status}"
    operation = document.get("paths", {}).get(path_template, {}).get(method.lower())
    if operation is None:
        return [f"{where}: the operation is not in the OpenAPI document"]
    responses = operation.get("responses", {})
    key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None)
    if key is None:
        declared = ", ".join(sorted(responses))
        return [f"{where}: status {status} is not declared (declared: {declared})"]
    content: dict[str, Any] = responses[key].get("content") or {}
    raw = body.encode() if isinstance(body, str) else body
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not content:
        if raw:
            return [f"{where}: declares no body but got {len(raw)} bytes of {media_type}"]
        return []
    if media_type not in content:
        return [f"{where}: media type {media_type or 'none'!r} not declared ({', '.join(content)})"]
    if raw is None or not media_type.endswith(_JSON_SUFFIXES):
        return []
    if "schema" not in content[media_type]:
        return []
    try:
        instance = json.loads(raw)
    except ValueError as exc:
        return [f"{where}: body is not JSON: {exc}"]
    pointer = "/".join(
        _escape(part) for part in ("paths", path_template, method.lower(), "responses", key)
    )
    validator = _validator(_DocumentKey(document), f"#/{pointer}/content/{_escape(media_type)}")
    return [
        f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    ]


def _escape(part: str) -> str:
    """A JSON pointer reference token."""
    return part.replace("~", "~0").replace("/", "~1")


class _DocumentKey:
    """Hashes a document by identity, so validators are built once per document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DocumentKey) and other.document is self.document


@lru_cache(maxsize=512)
def _validator(key: _DocumentKey, media_pointer: str) -> Draft202012Validator:
    resource = Resource(contents=key.document, specification=DRAFT202012)
    registry: Registry = Registry().with_resource(_BASE_URI, resource)
    return Draft202012Validator({"$ref": f"{_BASE_URI}{media_pointer}/schema"}, registry=registry)
