"""Demo accounts for `evently up --demo`: one admin and one customer.

The passwords are fixed and printed: this is for a local demo, never for production.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from evently.core.settings import load_settings
from evently.users.accounts import ensure_admin, ensure_customer
from evently.users.cli import AdminToolSettings

ADMIN_EMAIL = "admin@evently.local"
ADMIN_PASSWORD = "Evently-admin-demo-1"
CUSTOMER_EMAIL = "customer@evently.local"
CUSTOMER_PASSWORD = "Evently-customer-demo-1"


async def load_demo(env: Mapping[str, str], base_url: str, report: list[str]) -> None:
    """Create the demo admin and customer (idempotent) and say how to log in."""
    settings = load_settings(AdminToolSettings, env)
    conn = await asyncpg.connect(settings.database_url)
    try:
        admin, admin_outcome = await ensure_admin(
            conn, settings.bcrypt_rounds, ADMIN_EMAIL, ADMIN_PASSWORD, "Demo Admin"
        )
        customer, created = await ensure_customer(
            conn, settings.bcrypt_rounds, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "Demo Customer"
        )
    finally:
        await conn.close()
    report.append(
        f"  admin    {ADMIN_EMAIL} / {ADMIN_PASSWORD} (id {admin['id']}, {admin_outcome}); "
        f"POST {base_url}/api/v1/auth/admin/login"
    )
    report.append(
        f"  customer {CUSTOMER_EMAIL} / {CUSTOMER_PASSWORD} (id {customer['id']}, "
        f"{'created' if created else 'already there'}); POST {base_url}/api/v1/auth/login"
    )
