"""The users service definition."""

from __future__ import annotations

from evently.core.app import ServiceDefinition
from evently.users.routes import api
from evently.users.settings import UsersSettings

SERVICE = ServiceDefinition(
    name="users",
    schema="users",
    settings_class=UsersSettings,
    api=api,
    description="The users service.",
)
