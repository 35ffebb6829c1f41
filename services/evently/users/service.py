"""The users service definition: accounts, tokens and the keys that sign them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from evently.core.app import ServiceDefinition
from evently.core.auth import AUTHENTICATOR, Authenticator, JwksCache, static_jwks
from evently.core.tasks import background_task
from evently.users.cli import add_commands
from evently.users.housekeeping import run_housekeeping
from evently.users.keys import KEYRING, generate_signing_keys_json, load_keyring
from evently.users.passwords import dummy_hash
from evently.users.relay import run_outbox_relay
from evently.users.routes import api
from evently.users.settings import UsersSettings


def setup(app: web.Application, settings: UsersSettings) -> None:
    """Load the signing keys (failing fast if they are unusable) and verify tokens
    against them directly, not through our own JWKS over HTTP."""
    keyring = load_keyring(settings)
    app[KEYRING] = keyring
    app[AUTHENTICATOR] = Authenticator(JwksCache(static_jwks(keyring.jwks())))

    async def warm_dummy_hash(app: web.Application) -> None:
        await asyncio.to_thread(dummy_hash, settings.bcrypt_rounds)

    app.on_startup.append(warm_dummy_hash)
    app.cleanup_ctx.append(background_task("users-housekeeping", run_housekeeping))
    if settings.outbox_relay_enabled:
        app.cleanup_ctx.append(background_task("users-outbox-relay", run_outbox_relay))


SERVICE = ServiceDefinition(
    name="users",
    schema="users",
    settings_class=UsersSettings,
    api=api,
    description="Accounts, login and sessions, admin roles, and the keys that sign "
    "access tokens. See docs/users.md and docs/auth.md.",
    setup=setup,
    cli=add_commands,
    dev_secrets={"JWT_SIGNING_KEYS": generate_signing_keys_json},
)
