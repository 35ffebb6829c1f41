"""The images build offline with Debian's docker engine, and run as the chart runs them.

The Evently runtime image: non-root, works on a read-only root filesystem, carries no
compiler, and its size is recorded. The dev target (Tilt's) ships the reload wrapper. The
PostgreSQL test image keeps the official image's POSTGRES_* contract.
"""

from __future__ import annotations

import uuid

import pytest
from tests.e2e.conftest import Images
from tests.e2e.node import Node, Stages, wait_for

# Run as the chart runs a pod: its uid, no capabilities, read-only, an emptyDir on /tmp.
LOCKED_DOWN = ["--read-only", "--tmpfs", "/tmp", "--user", "10001:10001", "--cap-drop", "ALL"]
COMPILERS = ["gcc", "cc", "c++", "g++", "clang", "make", "ld"]
SIZE_CEILING_MB = 800


def test_runtime_image_runs_as_a_numeric_non_root_user(node: Node, images: Images) -> None:
    user = node.docker("image", "inspect", "-f", "{{.Config.User}}", images.evently).stdout
    uid = user.strip().split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {user!r}: runAsNonRoot needs a numeric uid"
    whoami = node.docker("run", "--rm", "--entrypoint", "id", images.evently, "-u").stdout
    assert whoami.strip() == uid


def test_runtime_image_works_on_a_read_only_root_filesystem(node: Node, images: Images) -> None:
    help_text = node.docker("run", "--rm", *LOCKED_DOWN, images.evently, "--help").stdout
    assert "serve" in help_text
    imports = "import evently.cli, evently_operator.cli; print('imported')"
    out = node.docker(
        "run", "--rm", *LOCKED_DOWN, "--entrypoint", "python", images.evently, "-c", imports
    ).stdout
    assert "imported" in out
    # Even root cannot write to it (so the refusal is the read-only mount, not permissions).
    write = node.docker(
        "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--user", "0", "--entrypoint", "sh",
        images.evently, "-c", "touch /opt/evently/x; echo tmp > /tmp/x && cat /tmp/x",
        check=False,
    )  # fmt: skip
    assert "Read-only file system" in write.stderr
    assert write.stdout.strip() == "tmp", "only /tmp is writable"


def test_runtime_image_has_no_compilers(node: Node, images: Images) -> None:
    probe = " ; ".join(f"command -v {c}" for c in COMPILERS) + " ; true"
    found = node.docker("run", "--rm", "--entrypoint", "sh", images.evently, "-c", probe).stdout
    assert found.strip() == "", f"compilers in the runtime image: {found.split()}"
    wheels = node.docker(
        "run", "--rm", "--entrypoint", "sh", images.evently, "-c", "ls /wheels /src", check=False
    )  # fmt: skip
    assert wheels.returncode != 0 and wheels.stdout == "", "build leftovers stay in the build"


def test_runtime_image_size_is_recorded(node: Node, images: Images, stages: Stages) -> None:
    size = int(node.docker("image", "inspect", "-f", "{{.Size}}", images.evently).stdout)
    base = int(node.docker("image", "inspect", "-f", "{{.Size}}", images.base).stdout)
    stages.figures["image size MB (runtime, its base)"] = [size // 2**20, base // 2**20]
    assert size // 2**20 < SIZE_CEILING_MB


def test_dev_target_ships_the_reload_wrapper(node: Node, images: Images) -> None:
    node.build_images("dev", "e2e", timeout=600)
    listing = node.docker(
        "run", "--rm", "--entrypoint", "sh", "evently:e2e-dev", "-c",
        "test -x /usr/local/bin/evently-reload && test -x /usr/local/bin/evently-restart && id -u",
    ).stdout  # fmt: skip
    assert listing.strip() == "10001"


@pytest.fixture
def postgres_container(node: Node, images: Images):
    name = f"pg-{uuid.uuid4().hex[:8]}"
    node.docker(
        "run", "-d", "--name", name, "--read-only", "--user", "999:999", "--cap-drop", "ALL",
        "--tmpfs", "/var/lib/postgresql/data:uid=999,gid=999",
        "--tmpfs", "/var/run/postgresql:uid=999,gid=999", "--tmpfs", "/tmp",
        "-e", "POSTGRES_USER=shop", "-e", "POSTGRES_PASSWORD=s3cret-pw",
        "-e", "POSTGRES_DB=tickets",
        "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
        images.postgres,
    )  # fmt: skip
    try:
        yield name
    finally:
        node.docker("rm", "-f", name, check=False)


def test_postgres_image_honours_the_official_variables(node: Node, postgres_container) -> None:
    def ready() -> bool:
        probe = node.docker(
            "exec", postgres_container, "pg_isready", "-h", "127.0.0.1", "-U", "shop", check=False
        )
        return probe.returncode == 0

    wait_for("PostgreSQL ready", ready, 60)
    # UTF8 as the official image's databases are (search's highlight marks need it).
    query = "select current_user, current_database(), current_setting('server_encoding')"
    answer = node.docker(
        "exec", postgres_container, "psql", "-At",
        "postgresql://shop:s3cret-pw@127.0.0.1/tickets", "-c", query,
    ).stdout  # fmt: skip
    assert answer.strip() == "shop|tickets|UTF8"
    wrong = node.docker(
        "exec", postgres_container, "psql", "postgresql://shop:wrong@127.0.0.1/tickets",
        "-c", "select 1", check=False,
    )  # fmt: skip
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    uid = node.docker("exec", postgres_container, "id", "-u").stdout
    assert uid.strip() == "999"
