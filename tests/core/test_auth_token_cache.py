"""The Authenticator remembers verified tokens until they expire (and no longer)."""

from __future__ import annotations

import asyncio
import time

import pytest

from evently.core.errors import Unauthorized
from tests.support.tokens import TokenMinter


async def test_a_verified_token_is_not_verified_again():
    minter = TokenMinter()
    authenticator = minter.authenticator()
    token = minter.token(7)
    calls = 0
    verify = authenticator._verify_signature_and_claims

    async def counting(raw: str) -> dict:
        nonlocal calls
        calls += 1
        return await verify(raw)

    authenticator._verify_signature_and_claims = counting  # type: ignore[method-assign]
    first = await authenticator.verify(token)
    second = await authenticator.verify(token)
    assert first["sub"] == second["sub"] == "7"
    assert calls == 1


async def test_a_cached_token_past_its_expiry_is_rejected():
    minter = TokenMinter()
    authenticator = minter.authenticator()
    authenticator.LEEWAY_S = 0
    token = minter.token(7, ttl_s=1)
    await authenticator.verify(token)
    await asyncio.sleep(max(0.0, minter_exp(token) - time.time()) + 0.05)
    with pytest.raises(Unauthorized) as failure:
        await authenticator.verify(token)
    assert failure.value.code == "token_expired"


def minter_exp(token: str) -> float:
    import jwt

    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


async def test_the_cache_is_bounded():
    minter = TokenMinter()
    authenticator = minter.authenticator()
    authenticator.cache_size = 3
    for user_id in range(1, 11):
        await authenticator.verify(minter.token(user_id))
    assert len(authenticator._verified) == 3


async def test_a_forged_token_is_never_cached():
    minter, forger = TokenMinter(), TokenMinter()
    authenticator = minter.authenticator()
    forged = forger.token(1)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await authenticator.verify(forged)
    assert forged not in authenticator._verified
