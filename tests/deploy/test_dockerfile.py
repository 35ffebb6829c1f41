"""The Dockerfile, checked statically, and its dev reload wrapper run for real with sh.
(tests/e2e/test_image.py builds and runs the image itself.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.chart import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _stages() -> list[tuple[str, str]]:
    """(name, body) of each build stage, in order."""
    parts = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]
    stages = []
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header.strip()
        stages.append((name, body))
    return stages


SCRIPTS = ROOT / "hack" / "images" / "evently"


def _script(path: str) -> str:
    """A script the dev target copies from hack/images/evently/ to ``path``."""
    name = Path(path).name
    assert f"hack/images/evently/{name}" in dict(_stages())["dev"], f"dev does not copy {name}"
    assert path.startswith("/usr/local/bin/")
    script = SCRIPTS / name
    assert os.access(script, os.X_OK), f"{script} must be executable (COPY keeps the mode)"
    return script.read_text()


def test_builds_with_the_builtin_frontend_of_docker_20_10() -> None:
    """No `# syntax` line (BuildKit would pull a frontend image) and no heredocs (the
    built-in frontend rejects them): the image must build without a registry."""
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE, flags=re.MULTILINE | re.IGNORECASE)
    assert "<<" not in DOCKERFILE
    assert "--chmod" not in DOCKERFILE, "the classic builder has no COPY --chmod"


def test_multi_stage_slim_python_image() -> None:
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
    names = [name for name, _ in _stages()]
    assert names[0] == "build" and names[-1] == "runtime", "runtime is the default target"
    assert "dev" in names


def test_builds_one_wheel_without_the_embedded_extra() -> None:
    build = dict(_stages())["build"]
    assert "pip wheel --no-deps --wheel-dir /wheels ." in build
    assert "/opt/evently/bin/pip install /wheels/evently-*.whl" in build
    assert "embedded" not in build
    assert "[" not in re.sub(r"#.*", "", build.split("RUN", 1)[1]), "no extras installed"


def test_runtime_is_non_root_with_the_evently_entrypoint() -> None:
    runtime = dict(_stages())["runtime"]
    (user,) = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root USER (runAsNonRoot checks it)"
    assert 'ENTRYPOINT ["evently"]' in runtime
    base = dict(_stages())["base"]
    assert "PYTHONDONTWRITEBYTECODE=1" in base
    assert "useradd --system --uid 10001" in base
    assert "COPY --from=build /opt/evently /opt/evently" in base


def test_chart_runs_as_the_images_user() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "charts" / "evently" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001
    assert values["securityContext"]["readOnlyRootFilesystem"] is True


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "charts", "**/__pycache__", ".evently", "hack"} <= ignored
    assert "!hack/images/evently" in ignored, "the dev target's scripts are in the context"
    for needed in ("services", "operator", "pyproject.toml"):
        assert needed not in ignored


@pytest.fixture
def reload_scripts(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    reload = tmp_path / "evently-reload"
    restart = tmp_path / "evently-restart"
    reload.write_text(_script("/usr/local/bin/evently-reload"))
    restart.write_text(_script("/usr/local/bin/evently-restart"))
    env = os.environ | {"EVENTLY_RELOAD_STATE": str(tmp_path / "state")}
    return reload, restart, env


def test_reload_wrapper_exits_with_the_status_of_a_process_that_ends(reload_scripts) -> None:
    reload, _, env = reload_scripts
    result = subprocess.run(["sh", str(reload), "sh", "-c", "exit 3"], env=env, timeout=10)
    assert result.returncode == 3, "a Job's pod must finish with the command's status"


def test_reload_wrapper_reruns_the_process_on_restart_and_stops_on_term(
    reload_scripts, tmp_path: Path
) -> None:
    reload, restart, env = reload_scripts
    starts = tmp_path / "starts"
    command = f"echo started >> {starts}; exec sleep 30"
    wrapper = subprocess.Popen(["sh", str(reload), "sh", "-c", command], env=env)
    try:
        _wait_for_lines(starts, 1)
        subprocess.run(["sh", str(restart)], env=env, check=True, timeout=10)
        _wait_for_lines(starts, 2)
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=10) != 0  # sleep died of SIGTERM, as the pod asked
        assert starts.read_text().count("started") == 2
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()


def _wait_for_lines(path: Path, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} line(s)")
