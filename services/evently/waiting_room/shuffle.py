"""The pre-queue shuffle: a verifiable random order for everyone who joined early.

When a room is created it draws a secret 32-byte ``seed`` and publishes only its
commitment, ``SHA-256(seed)`` in hex. At sale opening the ticker orders every pre-queue
ticket by ``HMAC-SHA256(key=seed, message=str(ticket_id))`` (the 32-byte digests
compared as unsigned big-endian numbers, the ticket id breaking a tie) and gives them
positions 1, 2, ... in that order; then it publishes the seed. Anyone holding the
published seed and the pre-queue's ticket ids can check that the seed matches the
commitment and recompute the order. The seed was fixed before anyone joined, and nobody
outside knew it, so no one could pick a ticket id that sorts early.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

SEED_BYTES = 32
ALGORITHM = "sort by HMAC-SHA256(key=seed, message=decimal ticket id), ascending"


def new_seed() -> bytes:
    """A fresh secret seed for a room."""
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """What a room publishes before the shuffle: the seed's SHA-256, hex."""
    return hashlib.sha256(seed).hexdigest()


def shuffle_key(seed: bytes, ticket_id: int) -> bytes:
    """A ticket's sort key in the shuffle."""
    return hmac.new(seed, str(ticket_id).encode(), hashlib.sha256).digest()


def prequeue_order(seed: bytes, ticket_ids: Iterable[int]) -> list[int]:
    """The pre-queue's ticket ids in queue order (the first gets position 1)."""
    return sorted(ticket_ids, key=lambda ticket_id: (shuffle_key(seed, ticket_id), ticket_id))
