"""Demo data for `evently up --demo`, loaded once through the real services.

Each service may ship ``evently.<service>.demo`` with
``async def load_demo(env, base_url, report) -> None``; they run in service order
(users first, so later steps can log in) and append lines to ``report``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from evently.services import SERVICE_NAMES

# What the demo suggests trying; a test checks that each finds a demo event.
SUGGESTED_SEARCH = "jazz"
SUGGESTED_PREFIX = "ja"


async def load_demo(env: Mapping[str, str], base_url: str) -> str:
    """Load every service's demo data (idempotent) and return what to print."""
    report: list[str] = ["Demo data:"]
    for name in SERVICE_NAMES:
        try:
            module = importlib.import_module(f"evently.{name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"evently.{name}.demo":
                raise
            continue
        await module.load_demo(env, base_url, report)
    if len(report) == 1:
        report.append("  (no service ships demo data yet)")
    return "\n".join(report)
