"""A small probe service built with the real core, to exercise the shared kernel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pydantic
import pytest
from aiohttp import web

from evently.core.api import Api, json_response
from evently.core.app import ServiceDefinition, create_app
from evently.core.errors import Conflict
from evently.core.settings import load_settings
from evently.services import load_service


class ProbeIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    name: str = pydantic.Field(min_length=1, max_length=20)
    seats: int = pydantic.Field(ge=1, le=10)


class ProbeQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    limit: int = pydantic.Field(20, ge=1, le=100)


probe_api = Api("probe")
SLOW_RELEASE: web.AppKey[asyncio.Event] = web.AppKey("slow_release", asyncio.Event)


@probe_api.post(
    "/api/v1/probes",
    summary="Create a probe",
    body=ProbeIn,
    response=ProbeIn,
    status=201,
    errors=(409,),
)
async def create_probe(request: web.Request, body: ProbeIn) -> web.Response:
    if body.name == "taken":
        raise Conflict("That name is taken", code="probe_name_taken", name=body.name)
    return json_response(body, status=201)


@probe_api.get(
    "/api/v1/probes/{id}",
    summary="One probe",
    query=ProbeQuery,
    path_params={"id": int},
    response={"type": "object", "required": ["id", "limit"]},
)
async def get_probe(request: web.Request, id: int, query: ProbeQuery) -> web.Response:
    return json_response({"id": id, "limit": query.limit})


@probe_api.get("/api/v1/boom", summary="Always fails")
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals: password=hunter2")


@probe_api.get(
    "/api/v1/slow",
    summary="Answers once released",
    response={"type": "object", "properties": {"done": {"const": True}}},
)
async def slow(request: web.Request) -> web.Response:
    await request.app[SLOW_RELEASE].wait()
    return json_response({"done": True})


@probe_api.get(
    "/api/v1/liar",
    summary="Answers with a body its own schema refuses (the response check must notice)",
    response={"type": "object", "required": ["promised"]},
)
async def liar(request: web.Request) -> web.Response:
    return json_response({"delivered": True})


@pytest.fixture
def probe_definition() -> ServiceDefinition:
    """The users service's identity and migrations, with the probe routes instead."""
    return replace(load_service("users"), api=probe_api, setup=None)


@pytest.fixture
def make_probe_app(
    service_env: dict[str, str], probe_definition: ServiceDefinition
) -> Callable[..., web.Application]:
    def build(**env: str) -> web.Application:
        settings = load_settings(probe_definition.settings_class, {**service_env, **env})
        app = create_app(probe_definition, settings)
        app[SLOW_RELEASE] = asyncio.Event()
        return app

    return build
