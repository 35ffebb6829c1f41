"""`helm install` of charts/evently on the real node (values-dev.yaml + values-e2e.yaml):
every Deployment Available, PostgreSQL from the chart's StatefulSet on the locally built
Debian image, the migrations Job complete, the first admin able to log in, the locked-down
pod security really in force, and `helm test` passing with its own pod."""

from __future__ import annotations

from tests.e2e.conftest import Release

SERVICES = [
    "users",
    "events",
    "bookings",
    "search",
    "analytics",
    "notifications",
    "waiting-room",
]


def test_every_deployment_is_available(release: Release) -> None:
    deployments = {d["metadata"]["name"]: d for d in release.deployments()}
    assert set(deployments) >= {release.component(n) for n in [*SERVICES, "operator"]}
    for name, deployment in deployments.items():
        conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
        assert conditions["Available"] == "True", name
        assert deployment["status"]["readyReplicas"] == deployment["spec"]["replicas"], name


def test_postgresql_runs_from_the_charts_statefulset_on_the_local_image(release: Release) -> None:
    node = release.node
    stateful = node.kubectl_json(
        "-n", release.namespace, "get", "statefulset", "evently-postgresql"
    )
    assert stateful["status"]["readyReplicas"] == 1
    (container,) = stateful["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "evently-test/postgres:15"
    claim = node.kubectl_json(
        "-n", release.namespace, "get", "pvc", "data-evently-postgresql-0"
    )  # fmt: skip
    assert claim["status"]["phase"] == "Bound"
    # POSTGRES_USER/POSTGRES_DB made the chart's role and database, as the official image does.
    answer = node.kubectl(
        "-n", release.namespace, "exec", "evently-postgresql-0", "--",
        "psql", "-At", "-h", "/var/run/postgresql", "-U", "evently", "-d", "evently",
        "-c", "select current_user, current_database(), count(*) > 0 from pg_namespace"
        " where nspname in ('users', 'events', 'bookings')",
    ).stdout  # fmt: skip
    assert answer.strip() == "evently|evently|t"


def test_the_migrations_job_completed(release: Release) -> None:
    job = release.node.kubectl_json("-n", release.namespace, "get", "job", "evently-migrate")
    assert job["status"].get("succeeded") == 1
    conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
    assert conditions.get("Complete") == "True"


def test_pods_run_locked_down_as_rendered(release: Release) -> None:
    node = release.node
    (pod,) = node.ready_pods(release.namespace, release.selector("users"))
    probe = "id -u; touch /opt/evently/x 2>&1; touch /tmp/x && echo tmp-writable"
    out = node.kubectl(
        "-n", release.namespace, "exec", pod, "--", "sh", "-c", probe, check=False
    ).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "10001"
    assert "Read-only file system" in out
    assert lines[-1] == "tmp-writable"
    status = node.kubectl(
        "-n", release.namespace, "exec", pod, "--", "grep", "CapEff", "/proc/1/status"
    ).stdout  # fmt: skip
    assert status.split()[-1] == "0000000000000000", "every capability dropped"


def test_helm_test_passes_with_a_real_pod(release: Release) -> None:
    result = release.node.helm(
        "test", release.name, "--namespace", release.namespace, "--logs", "--timeout", "180s",
        timeout=240,
    )  # fmt: skip
    assert "Phase:          Succeeded" in result.stdout
    for line in [f"{name.replace('-', '_')} /readyz 200" for name in SERVICES]:
        assert line in result.stdout
    assert "operator /healthz 200" in result.stdout
    assert "first admin login 200" in result.stdout
