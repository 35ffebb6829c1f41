"""The services by name, and where each one's definition lives."""

from __future__ import annotations

import importlib

from evently.core.app import ServiceDefinition

SERVICE_NAMES: tuple[str, ...] = (
    "users",
    "events",
    "bookings",
    "search",
    "analytics",
    "notifications",
    "waiting_room",
)


def load_service(name: str) -> ServiceDefinition:
    """Import ``evently.<name>.service`` and return its ``SERVICE``."""
    if name not in SERVICE_NAMES:
        raise KeyError(f"unknown service {name!r}; expected one of {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"evently.{name}.service")
    return module.SERVICE


def all_services() -> list[ServiceDefinition]:
    return [load_service(name) for name in SERVICE_NAMES]
