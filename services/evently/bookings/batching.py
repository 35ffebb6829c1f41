"""Bookings' hot path batches holds and confirmations with the shared group-commit batcher
(``core/batching.py``, which the waiting room's joins use too)."""

from evently.core.batching import Batcher, Batchers

__all__ = ["Batcher", "Batchers"]
