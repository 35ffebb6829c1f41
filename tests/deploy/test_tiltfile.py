"""The Tiltfile, executed by a Starlark interpreter against recording Tilt stubs."""

from __future__ import annotations

import re

import pytest

from tests.deploy.chart import ROOT, WORKLOAD_KINDS
from tests.deploy.tilt import TRIGGER_MODE_MANUAL, TiltRun, run_tiltfile

SERVICES = ["users", "events", "bookings", "search", "analytics", "notifications", "waiting-room"]
SAMPLE = "manifests/samples/concert.yaml"
FAKE_SAMPLE = """\
apiVersion: evently.io/v1alpha1
kind: Event
metadata:
  name: spring-concert
  namespace: evently
spec: {}
"""


@pytest.fixture(scope="module")
def tilt() -> TiltRun:
    return run_tiltfile()


def _dockerfile_stages() -> set[str]:
    text = (ROOT / "Dockerfile").read_text()
    return set(re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE))


def test_builds_the_dev_target_of_the_one_dockerfile(tilt: TiltRun) -> None:
    build = tilt.one("docker_build")
    assert build.args[:2] == ("evently", ".")
    assert build.kwargs["target"] == "dev"
    assert "dev" in _dockerfile_stages()
    assert build.kwargs["build_args"] == {"PYTHON_IMAGE": "python:3.11-slim"}


def test_shares_the_values_layering_of_the_e2e_stage() -> None:
    """values-dev.yaml is the common layer; Tilt and tests/e2e each add a thin one."""
    from tests.e2e.conftest import VALUES

    assert [p.name for p in VALUES] == ["values-dev.yaml", "values-e2e.yaml"]
    tilt = (ROOT / "Tiltfile").read_text()
    assert "values=[DEV_VALUES, TILT_VALUES]" in tilt


def test_live_update_syncs_python_sources_into_the_image_and_restarts(tilt: TiltRun) -> None:
    steps = tilt.one("docker_build").kwargs["live_update"]
    assert steps[0]["builtin"] == "fall_back_on", "fall_back_on must come first"
    syncs = {tuple(step["args"]) for step in steps if step["builtin"] == "sync"}
    site = "/opt/evently/lib/python3.11/site-packages"
    assert syncs == {
        ("services/evently", f"{site}/evently"),
        ("operator/evently_operator", f"{site}/evently_operator"),
    }
    for local, _ in syncs:
        assert (ROOT / local).is_dir(), local
    dockerfile = (ROOT / "Dockerfile").read_text()
    # The image's virtualenv and Python version are where the syncs land.
    assert "python -m venv /opt/evently" in dockerfile
    assert "python:3.11-slim" in dockerfile
    assert steps[-1] == {"builtin": "run", "args": ["evently-restart"]}
    assert "hack/images/evently/evently-restart" in dockerfile
    assert (ROOT / "hack" / "images" / "evently" / "evently-restart").is_file()


def test_deploys_the_chart_with_the_dev_values(tilt: TiltRun) -> None:
    helm = tilt.one("helm")
    assert helm.args == ("charts/evently",)
    assert helm.kwargs["name"] == "evently"
    assert helm.kwargs["values"] == [
        "charts/evently/values-dev.yaml",
        "charts/evently/values-tilt.yaml",
    ], "the layering tests/e2e uses, with Tilt's own layer last"
    tilt_layer = (ROOT / "charts/evently/values-tilt.yaml").read_text()
    assert "reloadWrapper: /usr/local/bin/evently-reload" in tilt_layer
    assert helm.kwargs["set"] == ["image.repository=evently"]
    workloads = {o["metadata"]["name"] for o in tilt.objects if o["kind"] in WORKLOAD_KINDS}
    expected = {f"evently-{s}" for s in SERVICES}
    expected |= {"evently-operator", "evently-postgresql", "evently-migrate"}
    assert expected <= workloads


def test_the_charts_helm_test_pod_is_left_out(tilt: TiltRun) -> None:
    helm = tilt.one("filter_yaml")
    assert helm.kwargs == {"kind": "Pod", "name": "evently-test"}
    assert not [o for o in tilt.objects if o["kind"] == "Pod"]


def test_every_resource_names_a_rendered_workload_or_object(tilt: TiltRun) -> None:
    workloads = {o["metadata"]["name"] for o in tilt.objects if o["kind"] in WORKLOAD_KINDS}
    selectors = {f"{o['metadata']['name']}:{o['kind'].lower()}".lower() for o in tilt.objects}
    for call in tilt.named("k8s_resource"):
        if call.args:
            assert call.args[0] in workloads, f"k8s_resource({call.args[0]!r}) is no workload"
        for selector in call.kwargs.get("objects", []):
            assert selector.lower() in selectors, f"{selector!r} matches nothing rendered"


def test_every_non_workload_object_is_grouped_into_a_resource(tilt: TiltRun) -> None:
    grouped = {
        selector.lower()
        for call in tilt.named("k8s_resource")
        for selector in call.kwargs.get("objects", [])
    }
    for obj in tilt.objects:
        if obj["kind"] in WORKLOAD_KINDS | {"Service"}:  # Tilt attaches Services itself
            continue
        selector = f"{obj['metadata']['name']}:{obj['kind']}".lower()
        assert selector in grouped, f"{selector} would land in Tilt's 'uncategorized'"


def test_database_then_migrations_then_services_and_operator(tilt: TiltRun) -> None:
    assert tilt.resource("database").args == ("evently-postgresql",)
    migrations = tilt.resource("migrations")
    assert migrations.args == ("evently-migrate",)
    assert "database" in migrations.kwargs["resource_deps"]
    for name in [*SERVICES, "operator"]:
        assert "migrations" in tilt.resource(name).kwargs["resource_deps"], name
    assert "crds" in tilt.resource("operator").kwargs["resource_deps"]
    assert "migrations" in tilt.resource("create-admin").kwargs["resource_deps"]
    # Jobs re-run on demand, not on every source change.
    assert migrations.kwargs["trigger_mode"] == TRIGGER_MODE_MANUAL


def test_port_forwards_for_gateway_prometheus_and_database(tilt: TiltRun) -> None:
    assert tilt.resource("database").kwargs["port_forwards"] == ["15432:5432"]
    assert tilt.resource("prometheus").kwargs["port_forwards"] == ["9090:9090"]
    gateway = tilt.resource("gateway")
    assert "port-forward svc/ingress-nginx-controller 8080:80" in gateway.kwargs["serve_cmd"]
    assert "ingress" in gateway.kwargs["resource_deps"]
    ports = {
        port["containerPort"]
        for o in tilt.objects
        if o["kind"] == "StatefulSet"
        for c in o["spec"]["template"]["spec"]["containers"]
        for port in c["ports"]
    }
    assert 5432 in ports


def test_every_resource_carries_a_label(tilt: TiltRun) -> None:
    labels = set()
    for call in [*tilt.named("k8s_resource"), *tilt.named("local_resource")]:
        assert call.kwargs.get("labels"), f"{call.args or call.kwargs.get('new_name')} unlabelled"
        labels.update(call.kwargs["labels"])
    assert {"infra", "setup", "services", "operator", "gateway", "monitoring"} <= labels


def test_sample_event_is_applied_after_the_operator_when_present() -> None:
    tilt = run_tiltfile(files={SAMPLE: FAKE_SAMPLE})
    events = [o for o in tilt.objects if o["kind"] == "Event"]
    # Where the dev release's operator watches, whatever namespace the sample names.
    assert [e["metadata"]["namespace"] for e in events] == ["default"]
    sample = tilt.resource("sample-event")
    assert sample.kwargs["objects"] == ["spring-concert:event"]
    assert sample.kwargs["resource_deps"] == ["operator"]


def test_the_dashboard_configmap_is_grouped_when_the_chart_renders_it() -> None:
    dashboard = "charts/evently/files/dashboards/evently.json"
    tilt = run_tiltfile(files={dashboard: '{"title": "Evently"}'})
    assert "evently-dashboard:configmap" in tilt.resource("prometheus").kwargs["objects"]


def test_a_missing_sample_event_is_tolerated(tmp_path) -> None:
    tiltfile = tmp_path / "Tiltfile"
    text = (ROOT / "Tiltfile").read_text().replace(SAMPLE, "manifests/samples/absent.yaml")
    tiltfile.write_text(text)
    tilt = run_tiltfile(tiltfile)
    assert not any(o["kind"] == "Event" for o in tilt.objects)
    assert not [c for c in tilt.named("k8s_resource") if c.kwargs.get("new_name") == "sample-event"]
