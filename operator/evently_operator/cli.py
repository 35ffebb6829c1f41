"""`evently-operator`: runs the kopf operator for Event resources.

    evently-operator            # same as `evently-operator run`
    evently-operator run

Settings come from the environment (``evently_operator.config``); a missing or bad
variable stops it at once with a message naming the variable (exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

import kopf

from evently.core.logs import configure_logging
from evently.core.settings import SettingsError
from evently_operator import handlers, json_patches
from evently_operator.config import OperatorSettings, load_operator_settings
from evently_operator.runtime import kopf_settings, own_identity


class _DropKopfInternals(logging.Filter):
    """kopf attaches its whole settings object to each record; keep logs readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        for attribute in ("settings", "k8s_skip"):
            record.__dict__.pop(attribute, None)
        return True


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (the image has it): kopf's per-event work is mostly I/O and
    event-loop overhead, which uvloop makes cheaper; else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evently-operator",
        description="Reconcile evently.io/v1 Event resources into the Evently platform.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the operator (the default)")
    return parser


async def run_operator(settings: OperatorSettings) -> None:
    """Run until SIGTERM/SIGINT."""
    json_patches.install()  # kopf's JSON patches without copying each object (json_patches.py)
    registry = kopf.OperatorRegistry()
    identity = own_identity()
    handlers.register(registry, settings, identity)
    await kopf.operator(
        registry=registry,
        settings=kopf_settings(settings, identity),
        clusterwide=not settings.watch_namespaces,
        namespaces=list(settings.watch_namespaces),
        standalone=settings.standalone,
        peering_name=None if settings.standalone else settings.peering_name,
        priority=settings.effective_peering_priority,
        identity=identity,
        memo=kopf.Memo(),
    )


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    try:
        settings = load_operator_settings()
    except SettingsError as exc:
        print(f"evently-operator: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropKopfInternals())
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run_operator(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
