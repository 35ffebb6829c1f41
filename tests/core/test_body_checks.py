"""The byte scan that lets most JSON bodies skip the NUL and depth walk must never let
through a body the walk would refuse (``core.api._may_break_json_rules``)."""

from __future__ import annotations

import json

import pytest

from evently.core.api import MAX_JSON_DEPTH, _may_break_json_rules, check_json_strings
from evently.core.errors import ApiError


def _nested(containers: int) -> object:
    """``containers`` objects and arrays, each inside the next."""
    value: object = 1
    for level in range(containers):
        value = [value] if level % 2 else {"k": value}
    return value


REFUSED = [
    {"name": "a\x00b"},
    {"a\x00": 1},
    {"venue": {"city": ["x", "y\x00"]}},
    _nested(MAX_JSON_DEPTH + 1),
]


@pytest.mark.parametrize("data", REFUSED)
def test_every_body_the_walk_refuses_is_flagged_by_the_scan(data: object) -> None:
    with pytest.raises(ApiError):
        check_json_strings(data)
    assert _may_break_json_rules(json.dumps(data).encode())


@pytest.mark.parametrize(
    "data",
    [
        {"event_id": 1, "quantity": 2},
        {"name": "Hall", "tags": ["a", "b"], "venue": {"city": "Berlin"}},
        _nested(MAX_JSON_DEPTH),
    ],
)
def test_an_ordinary_body_skips_the_walk(data: object) -> None:
    check_json_strings(data)
    assert not _may_break_json_rules(json.dumps(data).encode())
