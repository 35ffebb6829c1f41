"""Password hashing (bcrypt, off the event loop) and the password policy."""

from __future__ import annotations

import asyncio
import functools
import time

import bcrypt

from evently.users.metrics import BCRYPT_SECONDS

MIN_LENGTH = 10
MAX_BYTES = 72  # bcrypt ignores (bcrypt >= 5 rejects) anything longer


def _character_class(ch: str) -> str:
    if ch.islower():
        return "lower"
    if ch.isupper():
        return "upper"
    return "digit" if ch.isdigit() else "other"


def password_problems(password: str, email: str) -> list[str]:
    """Why ``password`` is too weak for the account ``email`` (empty if acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password.encode()) > MAX_BYTES:
        problems.append(f"must be at most {MAX_BYTES} bytes long (UTF-8)")
    classes = {_character_class(ch) for ch in password}
    if len(classes) < 2:
        problems.append(
            "must mix at least two kinds of characters "
            "(lower-case, upper-case, digits, symbols or spaces)"
        )
    lowered = password.strip().lower()
    local_part = email.split("@", 1)[0]
    if email and lowered in (email, local_part):
        problems.append("must not be your email address")
    return problems


def _hash(password: str, rounds: int) -> str:
    started = time.perf_counter()
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
    BCRYPT_SECONDS.labels("hash").observe(time.perf_counter() - started)
    return hashed


def _check(password: str, hashed: str) -> bool:
    started = time.perf_counter()
    # Over-long input cannot match a stored hash, but is still checked so it costs the same.
    ok = bcrypt.checkpw(password.encode()[:MAX_BYTES], hashed.encode())
    BCRYPT_SECONDS.labels("check").observe(time.perf_counter() - started)
    return ok and len(password.encode()) <= MAX_BYTES


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A hash of a random-looking password, checked when an email is unknown so that
    failed logins take as long whether or not the account exists."""
    return bcrypt.hashpw(b"evently-no-such-account", bcrypt.gensalt(rounds)).decode()


async def hash_password(password: str, rounds: int) -> str:
    """The bcrypt hash of ``password`` at cost ``rounds``."""
    return await asyncio.to_thread(_hash, password, rounds)


async def verify_password(password: str, hashed: str | None, rounds: int) -> bool:
    """Whether ``password`` matches ``hashed``; with no hash, burn the same time and fail."""
    if hashed is None:
        await asyncio.to_thread(lambda: _check(password, dummy_hash(rounds)))
        return False
    return await asyncio.to_thread(_check, password, hashed)
