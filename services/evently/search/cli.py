"""`evently search ...`: maintenance commands for the search index."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from evently.core.db import create_pool
from evently.core.settings import load_settings
from evently.search.backend import create_backend
from evently.search.errors import ReindexBusy
from evently.search.models import ReindexReport
from evently.search.settings import SearchSettings


def add_search_commands(commands: Any) -> None:
    """Add ``evently search reindex`` to the ``evently`` command line."""
    search = commands.add_parser("search", help="search index maintenance")
    actions = search.add_subparsers(dest="search_command", required=True)
    reindex = actions.add_parser(
        "reindex",
        help="rebuild the search index from the document table and swap it in (no downtime)",
    )
    reindex.set_defaults(func=_reindex_command)


def _reindex_command(args: argparse.Namespace) -> int:
    # The reindex talks to no other service, so the internal key is optional here.
    overrides = {} if os.environ.get("INTERNAL_API_KEY") else {"internal_api_key": "-" * 16}
    settings = load_settings(SearchSettings, **overrides)
    try:
        report = asyncio.run(reindex(settings))
    except ReindexBusy as exc:
        print(f"evently search reindex: {exc}", file=sys.stderr)
        return 1
    print(report.model_dump_json())
    return 0


async def reindex(settings: SearchSettings) -> ReindexReport:
    """Rebuild the configured backend's index; searches keep working meanwhile."""
    pool = await create_pool(settings, "evently-search-reindex", min_size=1, max_size=4)
    try:
        backend = create_backend(settings, pool)
        try:
            return await backend.reindex()
        finally:
            await backend.close()
    finally:
        await pool.close()
