"""A pytest plugin: every response a service sends during the suite must match its
declared OpenAPI document, or the test that caused it fails.

Every application built by ``create_app`` carries its document (``app[OPENAPI]``).
When such an application starts in the test process, this plugin puts a middleware in
front of all others, so it sees the final response (problem documents included) and
checks it with ``validate_response``. Requests that matched no endpoint declared with
``Api`` (the router's own 404 or 405, a route a test adds by hand, the gateway's
forwarder, whose responses are the services' own) have no operation to check against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from evently.core.health import OPENAPI
from tests.support.openapi_validation import validate_response

_problems: list[str] = []
_original_pre_freeze = web.Application.pre_freeze


@web.middleware
async def check_response(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _check(request, exc)
        raise
    _check(request, response)
    return response


def _check(request: web.Request, response: web.StreamResponse) -> None:
    resource = request.match_info.route.resource
    if resource is None or not hasattr(request.match_info.handler, "endpoint"):
        return  # no declared endpoint matched (the router's 404/405, a test's own route)
    document = request.app[OPENAPI]
    body: bytes | str | None = None
    if isinstance(response, web.Response):
        raw = response.body
        body = raw if isinstance(raw, bytes | str) else b"" if raw is None else None
    problems = validate_response(
        document,
        request.method,
        resource.canonical,
        response.status,
        response.headers.get("Content-Type"),
        body,
    )
    _problems.extend(f"{p}\n    body: {str(body)[:300]}" for p in problems)


def _pre_freeze(self: web.Application) -> None:
    if OPENAPI in self and not self.frozen and check_response not in self.middlewares:
        self.middlewares.insert(0, check_response)  # type: ignore[arg-type]
    _original_pre_freeze(self)


def pytest_configure(config: pytest.Config) -> None:
    web.Application.pre_freeze = _pre_freeze  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[Any]:
    _problems.clear()
    outcome = yield
    _fail_on_problems(outcome)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[Any]:
    outcome = yield
    _fail_on_problems(outcome)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[Any]:
    outcome = yield
    _fail_on_problems(outcome)


def _fail_on_problems(outcome: Any) -> None:
    if not _problems:
        return
    found = "\n".join(dict.fromkeys(_problems))
    _problems.clear()
    if outcome.excinfo is None:
        outcome.force_exception(
            AssertionError(f"responses that break their OpenAPI document:\n{found}")
        )
