"""A real OpenSearch-API server for tests: the ``osmem-server`` binary on 127.0.0.1.

osmem-server (a test-only dependency) keeps its data in memory and speaks the
OpenSearch REST API; see docs/search.md. Tests start one per test (about 20 ms) and
may stop, pause (SIGSTOP) or restart it to simulate outages. A restart loses data,
just as a wiped cluster would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import osmem_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OpenSearchServer:
    """One osmem-server process on a fixed 127.0.0.1 port (kept across restarts)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it announces itself."""
        binary = osmem_server.resolve_binary()
        args = [binary, "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch", "-no-ja"]
        args += ["-parent-pid", str(os.getpid())]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = self.process.stdout.readline()  # {"url": ..., "pid": ...} once listening
        if not line or "url" not in json.loads(line):
            self.stop()
            raise RuntimeError(f"osmem-server did not start on port {self.port}: {line!r}")
        while time.monotonic() < deadline:
            if self.answers():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"osmem-server on port {self.port} did not answer in {timeout_s}s")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate the process (its in-memory data is gone)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self) -> None:
        """Stop, then start again on the same port, empty."""
        self.stop()
        self.start()

    def pause(self, timeout_s: float = 5.0) -> None:
        """Freeze the process (SIGSTOP): connections hang, data is kept.

        Signal delivery is asynchronous, so wait until every thread is stopped; until
        then the server could still answer a request sent right after the signal.
        """
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + timeout_s
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise RuntimeError(f"osmem-server {self.process.pid} did not stop")
            time.sleep(0.005)

    def _all_threads_stopped(self) -> bool:
        assert self.process is not None
        tasks = f"/proc/{self.process.pid}/task"
        states = []
        for task in os.listdir(tasks):
            with contextlib.suppress(FileNotFoundError), open(f"{tasks}/{task}/stat") as stat:
                # the state follows the command name, which is in parentheses
                states.append(stat.read().rsplit(")", 1)[1].split()[0])
        return bool(states) and all(state in ("T", "t") for state in states)

    def resume(self) -> None:
        """Let a paused process run again (SIGCONT)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def opensearch_server() -> Iterator[OpenSearchServer]:
    """A started server, stopped on exit."""
    server = OpenSearchServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
