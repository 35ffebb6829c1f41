"""`evently up --demo`: the demo admin and customer exist and their printed passwords work."""

from __future__ import annotations

from evently.users import demo
from tests.users.helpers import login


async def test_demo_accounts_are_created_once_and_can_log_in(users, database_url):
    env = {"DATABASE_URL": database_url, "BCRYPT_ROUNDS": "4"}
    first: list[str] = []
    await demo.load_demo(env, "http://127.0.0.1:8080", first)
    again: list[str] = []
    await demo.load_demo(env, "http://127.0.0.1:8080", again)
    assert "created" in first[0] and "created" in first[1]
    assert "unchanged" in again[0] and "already there" in again[1]
    assert demo.ADMIN_PASSWORD in first[0]
    admin = await login(users, demo.ADMIN_EMAIL, demo.ADMIN_PASSWORD, admin=True)
    assert admin.status == 200
    customer = await login(users, demo.CUSTOMER_EMAIL, demo.CUSTOMER_PASSWORD)
    assert customer.status == 200
    assert (await customer.json())["user"]["roles"] == ["customer"]
