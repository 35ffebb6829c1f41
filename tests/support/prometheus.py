"""A real Prometheus (the Debian ``prometheus`` binary) on 127.0.0.1 for tests.

``run_prometheus(workdir)`` starts it with a generated config (scrape and evaluation
interval 1 s, ``--web.enable-lifecycle``) and waits for ``/-/ready``; ``await
server.scrape({"analytics": ["127.0.0.1:PORT"]})`` points it at running apps (one job
per key) and reloads. Queries are async, so an app served in the test's own event loop
keeps being scraped while the test waits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

READY_TIMEOUT_S = 20.0


def prometheus_binary() -> str:
    """The ``prometheus`` executable (PATH, then the Debian location)."""
    found = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(found, os.X_OK):
        raise RuntimeError("prometheus is not installed: run hack/install-tools.sh")
    return found


def promtool_binary() -> str:
    found = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(found, os.X_OK):
        raise RuntimeError("promtool is not installed: run hack/install-tools.sh")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusError(AssertionError):
    """Prometheus answered a query with an error."""


@dataclass
class PrometheusServer:
    url: str
    config_path: Path
    rule_files: list[str] = field(default_factory=list)
    log_path: Path | None = None

    def write_config(self, targets: Mapping[str, Sequence[str]]) -> None:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": list(self.rule_files),
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
                for job, addresses in targets.items()
            ],
        }
        self.config_path.write_text(yaml.safe_dump(config))

    async def scrape(self, targets: Mapping[str, Sequence[str]]) -> None:
        """Scrape ``targets`` (job name -> host:port list) from now on."""
        self.write_config(targets)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/-/reload") as response,
        ):
            assert response.status == 200, await response.text()

    async def api(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; raises on an error status."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/api/v1/{path}", params=params) as response,
        ):
            body = await response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The instant vector ``expr`` evaluates to (at Unix time ``at``, default now)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self.api("query", **params)
        return data["result"]

    async def value(self, expr: str, at: float | None = None) -> float | None:
        """The single value of ``expr``, or None if the vector is empty."""
        result = await self.query(expr, at)
        assert len(result) <= 1, f"{expr} returned {len(result)} series"
        return float(result[0]["value"][1]) if result else None

    async def wait_for(
        self,
        expr: str,
        predicate: Callable[[float | None], bool],
        timeout_s: float = 20.0,
        what: str = "",
    ) -> float | None:
        """Poll ``expr`` (every 0.25 s, at most ``timeout_s``) until ``predicate`` holds."""
        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            value = await self.value(expr)
            if predicate(value):
                return value
            await asyncio.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what or expr}; last value {value}")


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited ({process.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"prometheus not ready after {READY_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}"
    )


@contextmanager
def run_prometheus(
    workdir: Path,
    targets: Mapping[str, Sequence[str]] | None = None,
    rule_files: Sequence[Path] = (),
) -> Iterator[PrometheusServer]:
    """Start Prometheus on a free 127.0.0.1 port; stop it (and its data) afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = PrometheusServer(
        url,
        workdir / "prometheus.yml",
        [str(p) for p in rule_files],
        workdir / "prometheus.log",
    )
    server.write_config(targets or {})
    log = open(server.log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={server.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        _wait_ready(url, process, server.log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
