"""`evently up` as a subprocess, as `make run` starts it, for tests that need it whole."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

START_DEADLINE_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``: status, headers and body, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Output:
    """Lines a process prints, collected by a thread so the test never blocks on them."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._collect, args=(stream,), daemon=True)
        self._thread.start()

    def _collect(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, fragment: str, deadline_s: float = 90) -> str:
        """The first line containing ``fragment``, waiting for it to be printed."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if fragment in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"never printed {fragment!r}:\n{self.text()}")


@dataclass
class Platform:
    base: str
    process: subprocess.Popen
    data_dir: Path
    output: Output


@contextlib.contextmanager
def running_platform(
    data_dir: Path, *, demo: bool = True, env: Mapping[str, str] | None = None
) -> Iterator[Platform]:
    """Start `evently up` on a free port with an embedded database in ``data_dir``."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update({"LOG_LEVEL": "WARNING", **(env or {})})
    command = [sys.executable, "-m", "evently", "up", "--port", str(port)]
    command += ["--data-dir", str(data_dir)] + (["--demo"] if demo else [])
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, text=True
    )
    platform = Platform(f"http://127.0.0.1:{port}", process, data_dir, Output(process.stdout))
    try:
        _wait_healthy(platform)
        yield platform
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_healthy(platform: Platform) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if platform.process.poll() is not None:
            raise AssertionError(f"evently up exited early:\n{platform.output.text()}")
        try:
            if fetch(platform.base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"evently up did not serve /healthz:\n{platform.output.text()}")
