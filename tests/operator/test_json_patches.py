"""The operator's JSON patches (evently_operator/json_patches.py) against kopf's own.

For any object and merge patch, applying our ops must give exactly the object that
applying kopf's ops gives; an empty patch must not touch (deep-copy) the object at all.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kopf._cogs.structs import finalizers
from kopf._cogs.structs.patches import Patch

from evently_operator import json_patches

KEYS = st.sampled_from(["a", "b", "c", "x/y", "m~n", "finalizers", "status"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.text(max_size=3),
)
JSON = st.recursive(
    SCALARS.filter(lambda v: v is not None),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=4)
# A merge patch: nulls remove, objects merge, anything else replaces.
PATCHES = st.recursive(
    st.one_of(SCALARS, st.lists(SCALARS.filter(lambda v: v is not None), max_size=3)),
    lambda inner: st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
).filter(lambda p: isinstance(p, dict))


FINALIZER = "evently.io/cancel-event"
FINALIZERS = st.lists(st.sampled_from([FINALIZER, "other.io/keep"]), max_size=3)
# Objects as kopf sees them at a deletion: metadata with or without finalizers.
METADATA = st.fixed_dictionaries(
    {}, optional={"name": st.just("e"), "finalizers": FINALIZERS, "labels": OBJECTS}
)
FINALIZED_OBJECTS = st.fixed_dictionaries({}, optional={"metadata": METADATA, "spec": OBJECTS})
# kopf's own transformations: what it adds to a patch to add or remove its finalizer.
TRANSFORMATIONS = st.lists(
    st.sampled_from([finalizers.block_deletion, finalizers.allow_deletion]).map(
        lambda fn: functools.partial(fn, finalizer=FINALIZER)
    ),
    min_size=1,
    max_size=2,
)


def applied(body: dict[str, Any], ops: list[Any]) -> Any:
    return jsonpatch.apply_patch(copy.deepcopy(body), ops)


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=OBJECTS, merge=PATCHES)
def test_same_object_as_kopf(body: dict[str, Any], merge: dict[str, Any]) -> None:
    try:
        kopf_ops = json_patches.KOPF_AS_JSON_PATCH(Patch(merge, body=body))
    except (TypeError, AttributeError):
        return  # kopf itself cannot merge this patch into this object
    ours = json_patches.as_json_patch(Patch(merge, body=body))
    assert as_json(applied(body, ours)) == as_json(applied(body, kopf_ops))


@pytest.mark.parametrize(
    ("body", "merge", "expected"),
    [
        # The admission webhook's one real case: a finalizer added to a new object.
        (
            {"metadata": {"name": "e"}},
            {"metadata": {"finalizers": ["evently.io/event"]}},
            [{"op": "add", "path": "/metadata/finalizers", "value": ["evently.io/event"]}],
        ),
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": True}, [{"op": "replace", "path": "/a", "value": True}]),
        ({"a": 1}, {"a": None, "b": None}, [{"op": "remove", "path": "/a"}]),
        ({}, {"a": {"b": None, "c": {}}}, []),
        ({"x/y": {}}, {"x/y": {"m~n": 2}}, [{"op": "add", "path": "/x~1y/m~0n", "value": 2}]),
    ],
)
def test_ops(body: dict[str, Any], merge: dict[str, Any], expected: list[Any]) -> None:
    assert json_patches.as_json_patch(Patch(merge, body=body)) == expected


class Uncopyable:
    def __deepcopy__(self, memo: Any) -> Any:
        raise AssertionError("the object was deep-copied")


def test_empty_patch_copies_nothing() -> None:
    """kopf deep-copies the whole object before it notices the patch is empty (after
    every PATCH it applies); ours answers at once."""
    body = {"metadata": {"name": "e", "managedFields": [Uncopyable()]}}
    with pytest.raises(AssertionError, match="deep-copied"):
        json_patches.KOPF_AS_JSON_PATCH(Patch(body=body))
    assert json_patches.as_json_patch(Patch(body=body)) == []


def test_small_patch_copies_nothing() -> None:
    body = {"metadata": {"name": "e", "managedFields": [Uncopyable()]}, "spec": {"a": 1}}
    ops = json_patches.as_json_patch(Patch({"spec": {"a": 2}}, body=body))
    assert ops == [{"op": "replace", "path": "/spec/a", "value": 2}]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=FINALIZED_OBJECTS, merge=PATCHES, fns=TRANSFORMATIONS)
def test_finalizer_transformations_same_object_as_kopf(
    body: dict[str, Any], merge: dict[str, Any], fns: list[Any]
) -> None:
    try:
        kopf_ops = json_patches.KOPF_AS_JSON_PATCH(Patch(merge, body=copy.deepcopy(body), fns=fns))
    except (TypeError, AttributeError):
        return  # kopf itself cannot merge this patch into this object
    untouched = copy.deepcopy(body)
    ours = json_patches.as_json_patch(Patch(merge, body=body, fns=fns))
    assert body == untouched  # the object itself is never changed
    assert as_json(applied(body, ours)) == as_json(applied(body, kopf_ops))


def test_finalizer_removal_copies_nothing_else() -> None:
    """At every deletion kopf removes its finalizer with a transformation; its own
    implementation deep-copies the whole object for that (about 7 ms per deletion)."""
    body = {
        "metadata": {"name": "e", "finalizers": [FINALIZER], "managedFields": [Uncopyable()]},
        "status": {"big": Uncopyable()},
    }
    patch = Patch(
        body=body, fns=[functools.partial(finalizers.allow_deletion, finalizer=FINALIZER)]
    )
    assert json_patches.as_json_patch(patch) == [{"op": "remove", "path": "/metadata/finalizers"}]
    assert body["metadata"]["finalizers"] == [FINALIZER]


def test_transformations_left_to_kopf() -> None:
    def add_label(body: dict[str, Any]) -> None:
        body.setdefault("metadata", {}).setdefault("labels", {})["l"] = "v"

    patch = Patch({"spec": {"a": 2}}, body={"spec": {"a": 1}}, fns=[add_label])
    result = applied({"spec": {"a": 1}}, json_patches.as_json_patch(patch))
    assert result == {"spec": {"a": 2}, "metadata": {"labels": {"l": "v"}}}


def test_installed_into_kopf() -> None:
    json_patches.install()
    try:
        assert Patch.as_json_patch is json_patches.as_json_patch
    finally:
        Patch.as_json_patch = json_patches.KOPF_AS_JSON_PATCH  # type: ignore[method-assign]
