"""charts/evently: lint, values schema, and what every rendering must contain."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from tests.deploy.chart import (
    ROOT,
    VALUE_SETS,
    WORKLOAD_KINDS,
    Rendered,
    pod_spec,
    render,
    run_helm,
)

SERVICES = ["users", "events", "bookings", "search", "analytics", "notifications", "waiting_room"]


def component(name: str) -> str:
    """The chart's (DNS) name of a service's objects: evently-waiting-room."""
    return f"evently-{name.replace('_', '-')}"


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(*VALUE_SETS[request.param])


def _values_file(tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _template_error(*args: str) -> str:
    result = run_helm("template", "evently", "charts/evently", *args, check=False)
    assert result.returncode != 0, "helm template accepted values it should reject"
    return result.stderr


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_helm_lint_strict_passes(value_set: str) -> None:
    result = run_helm("lint", "--strict", "charts/evently", *VALUE_SETS[value_set])
    assert "0 chart(s) failed" in result.stdout


# --- the values schema ------------------------------------------------------------------


def test_schema_rejects_an_unknown_key_naming_it(tmp_path: Path) -> None:
    error = _template_error("-f", _values_file(tmp_path, {"services": {"users": {"replica": 3}}}))
    assert "services.users" in error
    assert "replica" in error


def test_schema_rejects_an_unknown_top_level_key(tmp_path: Path) -> None:
    error = _template_error("-f", _values_file(tmp_path, {"replicaCount": 3}))
    assert "replicaCount" in error


def test_schema_rejects_a_wrong_type_naming_the_key(tmp_path: Path) -> None:
    error = _template_error("-f", _values_file(tmp_path, {"serviceDefaults": {"replicas": "two"}}))
    assert "serviceDefaults.replicas" in error
    assert "integer" in error


def test_schema_rejects_a_sixth_service(tmp_path: Path) -> None:
    error = _template_error("-f", _values_file(tmp_path, {"services": {"payments": {}}}))
    assert "payments" in error


def test_schema_rejects_signing_keys_that_are_not_json() -> None:
    error = _template_error("--set", "secrets.jwtSigningKeys=-----BEGIN PRIVATE KEY-----")
    assert "jwtSigningKeys" in error


def test_schema_rejects_a_short_internal_api_key() -> None:
    error = _template_error("--set", "secrets.internalApiKey=short")
    assert "internalApiKey" in error


def test_schema_rejects_running_as_root() -> None:
    error = _template_error("--set", "podSecurityContext.runAsNonRoot=false")
    assert "runAsNonRoot" in error


def test_no_database_configured_fails_with_what_to_set() -> None:
    error = _template_error("--set", "postgresql.enabled=false")
    assert "database.url" in error and "postgresql.enabled" in error


# --- workloads -------------------------------------------------------------------------


def test_five_services_and_the_operator_each_have_a_deployment_and_service(
    rendered: Rendered,
) -> None:
    for name in [*SERVICES, "operator"]:
        rendered.get("Deployment", component(name))
        rendered.get("Service", component(name))


def test_each_service_serves_itself_with_probes_on_healthz_and_readyz(rendered: Rendered) -> None:
    for name in SERVICES:
        (container,) = pod_spec(rendered.get("Deployment", component(name)))["containers"]
        assert container["command"] == ["evently"]
        assert container["args"] == ["serve", name]
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["limits"]["memory"]


def test_every_deployment_has_a_startup_probe_before_liveness_may_restart_it(
    rendered: Rendered,
) -> None:
    """On the real node the operator took ~30 s to start under load; liveness must wait."""
    for name in [*SERVICES, "operator"]:
        (container,) = pod_spec(rendered.get("Deployment", component(name)))["containers"]
        startup = container["startupProbe"]
        assert startup["httpGet"]["path"] == "/healthz", name
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, name
        assert "initialDelaySeconds" not in container["livenessProbe"], name


def test_every_pod_is_non_root_read_only_without_capabilities_and_spread(
    rendered: Rendered,
) -> None:
    workloads = [o for o in rendered.objects if o["kind"] in WORKLOAD_KINDS]
    assert workloads
    for workload in workloads:
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["topologySpreadConstraints"], where
        assert spec.get("automountServiceAccountToken", True) is False or (
            workload["metadata"]["name"] in {"evently-operator", "evently-prometheus"}
        ), f"{where} mounts an API token it does not need"
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"], where


def test_shared_configmap_points_services_at_each_other(rendered: Rendered) -> None:
    config = rendered.get("ConfigMap", "evently-config")["data"]
    for name in SERVICES:
        assert config[f"{name.upper()}_URL"] == f"http://{component(name)}:8080"
    assert config["PORT"] == "8080"
    for name in SERVICES:
        (container,) = pod_spec(rendered.get("Deployment", component(name)))["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "evently-config"}}]


def test_per_service_env_and_overrides_merge_over_the_defaults() -> None:
    out = render(
        "--set", "services.search.env.OPENSEARCH_INDEX=evently-test",
        "--set", "services.bookings.replicas=7",
        "--set", "opensearch.url=http://opensearch:9200",
    )  # fmt: skip
    (search,) = pod_spec(out.get("Deployment", "evently-search"))["containers"]
    assert _env(search)["OPENSEARCH_INDEX"] == "evently-test"
    assert _env(search)["OPENSEARCH_URL"] == "http://opensearch:9200"
    assert _env(search)["SEARCH_BACKEND"] == "opensearch"
    assert out.get("Deployment", "evently-bookings")["spec"]["replicas"] == 7
    assert out.get("Deployment", "evently-users")["spec"]["replicas"] == 2
    (users,) = pod_spec(out.get("Deployment", "evently-users"))["containers"]
    assert "OPENSEARCH_INDEX" not in _env(users)


def test_opensearch_url_from_a_secret_switches_search_to_opensearch() -> None:
    out = render("--set", "opensearch.existingSecret.name=opensearch-credentials")
    (search,) = pod_spec(out.get("Deployment", "evently-search"))["containers"]
    assert _env(search)["SEARCH_BACKEND"] == "opensearch"
    assert _env(search)["OPENSEARCH_URL"] == {
        "secretKeyRef": {"name": "opensearch-credentials", "key": "OPENSEARCH_URL"}
    }
    (plain,) = pod_spec(render().get("Deployment", "evently-search"))["containers"]
    assert "SEARCH_BACKEND" not in _env(plain), "PostgreSQL search by default"


# --- secrets and jobs ----------------------------------------------------------------


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_generated_secret_holds_keys_dsn_and_admin_as_an_early_hook() -> None:
    out = render()
    secret = out.get("Secret", "evently")
    data = _decoded(secret)
    assert len(data["INTERNAL_API_KEY"]) >= 16
    # The users service's own loader accepts the generated key (JSON {kid: PEM}).
    from evently.core.settings import load_settings
    from evently.users.keys import load_keyring
    from evently.users.settings import UsersSettings

    environ = {"JWT_SIGNING_KEYS": data["JWT_SIGNING_KEYS"]} | {
        k: v for k, v in data.items() if k in {"DATABASE_URL", "INTERNAL_API_KEY"}
    }
    keyring = load_keyring(load_settings(UsersSettings, environ))
    ((kid, _),) = json.loads(data["JWT_SIGNING_KEYS"]).items()
    assert keyring.active.kid == kid
    password = data["POSTGRES_PASSWORD"]
    assert data["DATABASE_URL"] == (
        f"postgresql://evently:{password}@evently-postgresql:5432/evently"
    )
    assert data["ADMIN_EMAIL"] == "admin@evently.local" and data["ADMIN_PASSWORD"]
    annotations = secret["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    migrate = out.get("Job", "evently-migrate")["metadata"]["annotations"]
    assert int(annotations["helm.sh/hook-weight"]) < int(migrate["helm.sh/hook-weight"])
    (users,) = pod_spec(out.get("Deployment", "evently-users"))["containers"]
    assert _env(users)["JWT_SIGNING_KEYS"] == {
        "secretKeyRef": {"name": "evently", "key": "JWT_SIGNING_KEYS"}
    }
    (events,) = pod_spec(out.get("Deployment", "evently-events"))["containers"]
    assert "JWT_SIGNING_KEYS" not in _env(events), "only users signs tokens"


def test_generated_secret_holds_a_ticket_key_set_of_its_own_for_bookings_only() -> None:
    from evently.bookings.settings import BookingsSettings
    from evently.bookings.ticket_keys import load_ticket_keys
    from evently.core.settings import load_settings

    out = render()
    data = _decoded(out.get("Secret", "evently"))
    # The bookings service's own loader accepts the generated key (JSON {kid: PEM}).
    environ = {"TICKET_SIGNING_KEYS": data["TICKET_SIGNING_KEYS"]} | {
        k: v for k, v in data.items() if k in {"DATABASE_URL", "INTERNAL_API_KEY"}
    }
    ticket_keys = load_ticket_keys(load_settings(BookingsSettings, environ))
    ((kid, _),) = json.loads(data["TICKET_SIGNING_KEYS"]).items()
    assert ticket_keys.active.kid == kid
    assert kid not in json.loads(data["JWT_SIGNING_KEYS"]), "not the token keys"
    for name in SERVICES:
        (container,) = pod_spec(out.get("Deployment", component(name)))["containers"]
        has_ticket_keys = "TICKET_SIGNING_KEYS" in _env(container)
        assert has_ticket_keys == (name == "bookings"), name
    (bookings,) = pod_spec(out.get("Deployment", "evently-bookings"))["containers"]
    assert _env(bookings)["TICKET_SIGNING_KEYS"] == {
        "secretKeyRef": {"name": "evently", "key": "TICKET_SIGNING_KEYS"}
    }


def test_generated_secret_holds_an_admission_key_set_for_the_waiting_room_only() -> None:
    from evently.core.settings import load_settings
    from evently.waiting_room.admission_keys import load_admission_keys
    from evently.waiting_room.settings import WaitingRoomSettings

    out = render()
    data = _decoded(out.get("Secret", "evently"))
    environ = {"ADMISSION_SIGNING_KEYS": data["ADMISSION_SIGNING_KEYS"]} | {
        k: v for k, v in data.items() if k in {"DATABASE_URL", "INTERNAL_API_KEY"}
    }
    keys = load_admission_keys(load_settings(WaitingRoomSettings, environ))
    ((kid, _),) = json.loads(data["ADMISSION_SIGNING_KEYS"]).items()
    assert keys.active.kid == kid
    assert kid not in json.loads(data["TICKET_SIGNING_KEYS"]) | json.loads(data["JWT_SIGNING_KEYS"])
    for name in SERVICES:
        (container,) = pod_spec(out.get("Deployment", component(name)))["containers"]
        assert ("ADMISSION_SIGNING_KEYS" in _env(container)) == (name == "waiting_room"), name


def test_existing_secret_replaces_the_generated_one() -> None:
    out = render("--set", "secrets.existingSecret=platform-secrets")
    # Only the webhook's serving certificate remains (a TLS Secret, not the platform's).
    assert [s["type"] for s in out.of_kind("Secret")] == ["kubernetes.io/tls"]
    for name in SERVICES:
        (container,) = pod_spec(out.get("Deployment", component(name)))["containers"]
        env = _env(container)
        assert env["DATABASE_URL"]["secretKeyRef"]["name"] == "platform-secrets"
        assert env["INTERNAL_API_KEY"]["secretKeyRef"]["name"] == "platform-secrets"


def test_prod_reads_an_external_dsn_and_migrates_before_install() -> None:
    out = render(*VALUE_SETS["prod"])
    assert not out.of_kind("StatefulSet")
    (migrate,) = pod_spec(out.get("Job", "evently-migrate"))["containers"]
    assert migrate["args"] == ["migrate"]
    assert _env(migrate)["DATABASE_URL"] == {
        "secretKeyRef": {"name": "evently-database", "key": "DATABASE_URL"}
    }
    hook = out.get("Job", "evently-migrate")["metadata"]["annotations"]["helm.sh/hook"]
    assert hook == "pre-install,pre-upgrade"
    assert "DATABASE_URL" not in out.get("Secret", "evently")["data"]


def test_in_cluster_database_migrates_after_install() -> None:
    out = render()
    hook = out.get("Job", "evently-migrate")["metadata"]["annotations"]["helm.sh/hook"]
    assert hook == "post-install,pre-upgrade"
    out.get("StatefulSet", "evently-postgresql")


def test_first_admin_job_passes_the_password_on_stdin() -> None:
    out = render()
    job = out.get("Job", "evently-create-admin")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    (container,) = pod_spec(job)["containers"]
    script = container["args"][0]
    assert "evently users create-admin" in script and "--password-stdin" in script
    assert '"$ADMIN_PASSWORD"' in script.split("|")[0]
    assert _env(container)["ADMIN_PASSWORD"]["secretKeyRef"]["key"] == "ADMIN_PASSWORD"


# --- operator --------------------------------------------------------------------------

OPERATOR_RBAC = ROOT / "operator" / "evently_operator" / "rbac.yaml"
CLUSTER_SCOPED = {
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("", "namespaces"),
    ("kopf.dev", "clusterkopfpeerings"),
}


def _grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs."""
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def test_operator_rbac_covers_what_the_operator_needs(rendered: Rendered) -> None:
    # operator/evently_operator/rbac.yaml is what the operator's tests run it with.
    needed = _grants(yaml.safe_load(OPERATOR_RBAC.read_text()))
    granted = _grants(rendered.get("Role", "evently-operator"))
    cluster = _grants(rendered.get("ClusterRole", "evently-evently-operator"))
    for key, verbs in needed.items():
        have = cluster.get(key, set()) if key in CLUSTER_SCOPED else granted.get(key, set())
        assert verbs <= have, f"{key}: the operator needs {sorted(verbs - have)}"


def test_operator_rbac_writes_only_in_watched_namespaces(rendered: Rendered) -> None:
    role = rendered.get("Role", "evently-operator")
    granted = _grants(role)
    for (_, resource), verbs in granted.items():
        assert "*" not in verbs and resource != "*" and "delete" not in verbs
        assert resource not in {"secrets", "configmaps", "pods"}, resource
    creators = {key for key, verbs in granted.items() if "create" in verbs}
    assert creators == {("", "events"), ("events.k8s.io", "events"), ("kopf.dev", "kopfpeerings")}
    # Replicas change together with the annotation recording what was there before the
    # sale window (docs/operator.md), so Deployments are patched, never created or deleted.
    assert granted[("apps", "deployments")] == {"get", "patch"}
    # Cluster-wide it only observes (kopf), besides kopf's own cluster peering object.
    cluster = _grants(rendered.get("ClusterRole", "evently-evently-operator"))
    assert set(cluster) == CLUSTER_SCOPED
    for key in CLUSTER_SCOPED - {("kopf.dev", "clusterkopfpeerings")}:
        assert cluster[key] == {"get", "list", "watch"}, key
    for kind, name in (
        ("RoleBinding", "evently-operator"),
        ("ClusterRoleBinding", "evently-evently-operator"),
    ):
        binding = rendered.get(kind, name)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "evently-operator", "namespace": "evently"}
        ]


def test_operator_runs_evently_operator_with_its_settings(rendered: Rendered) -> None:
    deployment = rendered.get("Deployment", "evently-operator")
    spec = pod_spec(deployment)
    assert spec["serviceAccountName"] == "evently-operator"
    (container,) = spec["containers"]
    assert container["command"] == ["evently-operator"]
    env = _env(container)
    assert env["WATCH_NAMESPACES"] == "evently"
    assert env["DATABASE_URL"]["secretKeyRef"]["key"] == "DATABASE_URL"
    assert env["INTERNAL_API_KEY"]["secretKeyRef"]["key"] == "INTERNAL_API_KEY"
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["PEERING_NAME"] == "evently-operator"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = rendered.get("ConfigMap", "evently-config")["data"]
    assert config["BOOKINGS_URL"] == "http://evently-bookings:8080"


def test_operator_without_peering_runs_standalone_and_alone() -> None:
    out = render("--set", "operator.peering.enabled=false")
    (container,) = pod_spec(out.get("Deployment", "evently-operator"))["containers"]
    assert _env(container)["STANDALONE"] == "true" and "PEERING_NAME" not in _env(container)
    error = _template_error(
        "--set", "operator.peering.enabled=false", "--set", "operator.replicas=2"
    )
    assert "operator.peering.enabled" in error


def test_operator_gets_a_role_and_peering_in_each_watched_namespace() -> None:
    out = render("--set", "operator.watchNamespaces={shows,festivals}")
    roles = {r["metadata"]["namespace"] for r in out.of_kind("Role")}
    assert roles == {"shows", "festivals"}
    bindings = {b["metadata"]["namespace"] for b in out.of_kind("RoleBinding")}
    assert bindings == roles
    (container,) = pod_spec(out.get("Deployment", "evently-operator"))["containers"]
    assert _env(container)["WATCH_NAMESPACES"] == "shows,festivals"


def test_operator_cluster_wide_watches_every_namespace_with_a_cluster_role() -> None:
    out = render("--set", "operator.clusterWide=true")
    (container,) = pod_spec(out.get("Deployment", "evently-operator"))["containers"]
    assert _env(container)["WATCH_NAMESPACES"] == ""  # every namespace
    assert out.of_kind("Role") == [] and out.of_kind("RoleBinding") == []
    needed = _grants(yaml.safe_load(OPERATOR_RBAC.read_text()))
    granted = _grants(out.get("ClusterRole", "evently-evently-operator-events"))
    cluster = _grants(out.get("ClusterRole", "evently-evently-operator"))
    for key, verbs in needed.items():
        if key != ("kopf.dev", "kopfpeerings"):  # cluster-wide peering instead
            have = cluster.get(key, set()) if key in CLUSTER_SCOPED else granted.get(key, set())
            assert verbs <= have, f"{key}: the operator needs {sorted(verbs - have)}"
    binding = out.get("ClusterRoleBinding", "evently-evently-operator-events")
    assert binding["roleRef"]["name"] == "evently-evently-operator-events"
    error = _template_error(
        "--set", "operator.clusterWide=true", "--set", "operator.watchNamespaces={shows}"
    )
    assert "operator.clusterWide" in error


def test_the_webhook_is_served_by_the_operator_with_a_certificate_its_config_trusts() -> None:
    out = render()
    (config,) = out.of_kind("ValidatingWebhookConfiguration")
    (webhook,) = config["webhooks"]
    assert webhook["failurePolicy"] == "Ignore" and webhook["sideEffects"] == "None"
    assert webhook["clientConfig"]["service"] == {
        "name": "evently-operator", "namespace": "evently", "path": "/validate-event", "port": 443,
    }  # fmt: skip
    (rule,) = webhook["rules"]
    assert (rule["apiGroups"], rule["resources"]) == (["evently.io"], ["events"])
    # Creations are judged by the mutating webhook (one request each); never DELETE, so
    # cleanup always works.
    assert rule["operations"] == ["UPDATE"]
    secret = out.get("Secret", "evently-operator-webhook-tls")
    assert secret["data"]["ca.crt"] == webhook["clientConfig"]["caBundle"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "evently-operator.evently.svc" in names.get_values_for_type(x509.DNSName)
    service = out.get("Service", "evently-operator")
    assert {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"} in (
        service["spec"]["ports"]
    )
    (container,) = pod_spec(out.get("Deployment", "evently-operator"))["containers"]
    env = _env(container)
    assert env["WEBHOOK_PORT"] == "9443"
    assert env["WEBHOOK_CERT_FILE"] == "/etc/evently/webhook/tls.crt"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/etc/evently/webhook"] == "webhook-tls"
    (mutating_config,) = out.of_kind("MutatingWebhookConfiguration")
    (mutating,) = mutating_config["webhooks"]
    assert mutating["failurePolicy"] == "Ignore" and mutating["sideEffects"] == "None"
    assert mutating["clientConfig"] == {
        "service": {**webhook["clientConfig"]["service"], "path": "/admit-creation"},
        "caBundle": secret["data"]["ca.crt"],
    }
    (rule,) = mutating["rules"]
    assert (rule["resources"], rule["operations"]) == (["events"], ["CREATE"])
    off = render("--set", "operator.webhook.enabled=false")
    assert not off.of_kind("ValidatingWebhookConfiguration")
    assert not off.of_kind("MutatingWebhookConfiguration")
    (container,) = pod_spec(off.get("Deployment", "evently-operator"))["containers"]
    assert "WEBHOOK_PORT" not in _env(container)


# --- scaling and API versions -----------------------------------------------------------


def test_hpa_and_pdb_use_current_apis_on_current_clusters() -> None:
    out = render(*VALUE_SETS["prod"], "--kube-version", "1.31.0")
    hpas = out.of_kind("HorizontalPodAutoscaler")
    assert {h["apiVersion"] for h in hpas} == {"autoscaling/v2"}
    assert {p["apiVersion"] for p in out.of_kind("PodDisruptionBudget")} == {"policy/v1"}
    assert len(hpas) == len(SERVICES)
    for hpa in hpas:
        deployment = out.get("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in deployment["spec"], "the HPA owns replicas"


def test_hpa_and_pdb_fall_back_on_a_1_20_cluster() -> None:
    out = render(*VALUE_SETS["prod"], "--kube-version", "1.20.2")
    assert {h["apiVersion"] for h in out.of_kind("HorizontalPodAutoscaler")} == {
        "autoscaling/v2beta2"
    }
    assert {p["apiVersion"] for p in out.of_kind("PodDisruptionBudget")} == {"policy/v1beta1"}


# --- monitoring --------------------------------------------------------------------------


def test_without_the_prometheus_operator_pods_carry_scrape_annotations() -> None:
    out = render()
    assert not out.of_kind("ServiceMonitor") and not out.of_kind("PrometheusRule")
    for name in [*SERVICES, "operator"]:
        annotations = out.get("Deployment", component(name))["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"


def test_with_the_prometheus_operator_a_service_monitor_replaces_annotations() -> None:
    out = render("--api-versions", "monitoring.coreos.com/v1")
    monitor = out.get("ServiceMonitor", "evently")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    # The rules aggregate by the metrics' own `service` label: it must not be overwritten.
    assert endpoint["honorLabels"] is True
    (expression,) = monitor["spec"]["selector"]["matchExpressions"]
    assert set(expression["values"]) == {*SERVICES, "operator"}
    annotations = out.get("Deployment", "evently-users")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert "prometheus.io/scrape" not in annotations


RULES = """\
groups:
  - name: evently-test
    rules:
      - alert: EventlyDown
        expr: up{job="evently"} == 0
        annotations:
          summary: "{{ $labels.service }} is down"
"""
DASHBOARD = '{"title": "Evently", "panels": []}\n'


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A copy of the chart whose optional files the test controls."""
    import shutil

    from tests.deploy.chart import CHART

    copy = tmp_path / "evently"
    shutil.copytree(CHART, copy)
    shutil.rmtree(copy / "files" / "prometheus", ignore_errors=True)
    shutil.rmtree(copy / "files" / "dashboards", ignore_errors=True)
    return copy


def _render_chart(chart: Path, *args: str) -> Rendered:
    from tests.deploy.chart import parse_objects

    text = run_helm("template", "evently", str(chart), "--namespace", "evently", *args).stdout
    return Rendered(text, parse_objects(text))


def test_rules_and_dashboard_files_become_a_prometheus_rule_and_configmap(
    chart_copy: Path,
) -> None:
    (chart_copy / "files" / "prometheus").mkdir()
    (chart_copy / "files" / "prometheus" / "rules.yaml").write_text(RULES)
    (chart_copy / "files" / "dashboards").mkdir()
    (chart_copy / "files" / "dashboards" / "evently.json").write_text(DASHBOARD)
    out = _render_chart(chart_copy, "--api-versions", "monitoring.coreos.com/v1")
    rule = out.get("PrometheusRule", "evently")
    assert rule["spec"] == yaml.safe_load(RULES)
    dashboard = out.get("ConfigMap", "evently-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert yaml.safe_load(dashboard["data"]["evently.json"]) == yaml.safe_load(DASHBOARD)
    # The in-chart Prometheus (dev) loads the same rules.
    dev = _render_chart(chart_copy, "--set", "prometheus.enabled=true")
    assert yaml.safe_load(dev.get("ConfigMap", "evently-prometheus")["data"]["rules.yaml"]) == (
        yaml.safe_load(RULES)
    )


def test_missing_rules_and_dashboard_files_render_nothing(chart_copy: Path) -> None:
    out = _render_chart(chart_copy, "--api-versions", "monitoring.coreos.com/v1")
    assert not out.of_kind("PrometheusRule")
    assert not [c for c in out.of_kind("ConfigMap") if c["metadata"]["name"].endswith("dashboard")]


def test_analytics_reads_the_in_chart_prometheus_in_dev() -> None:
    out = render(*VALUE_SETS["dev"])
    (analytics,) = pod_spec(out.get("Deployment", "evently-analytics"))["containers"]
    assert _env(analytics)["PROMETHEUS_URL"] == "http://evently-prometheus:9090"
    out.get("Service", "evently-prometheus")


def test_notifications_gets_the_mail_settings_and_only_it() -> None:
    out = render(*VALUE_SETS["prod"])
    (notifications,) = pod_spec(out.get("Deployment", "evently-notifications"))["containers"]
    env = _env(notifications)
    assert env["MAIL_TRANSPORT"] == "smtp" and env["SMTP_HOST"] == "smtp.example.com"
    assert env["SMTP_PORT"] == "587" and env["SMTP_TLS"] == "starttls"
    assert env["SMTP_PASSWORD"] == {
        "secretKeyRef": {"name": "evently-smtp", "key": "SMTP_PASSWORD"}
    }
    assert env["PUBLIC_BASE_URL"].startswith("https://")
    (users,) = pod_spec(out.get("Deployment", "evently-users"))["containers"]
    assert not {"MAIL_TRANSPORT", "SMTP_HOST", "SMTP_PASSWORD"} & set(_env(users))


def test_an_smtp_password_given_as_a_value_is_kept_in_the_chart_secret() -> None:
    out = render(
        "--set", "mail.transport=smtp", "--set", "mail.smtp.host=mail.internal",
        "--set", "mail.smtp.password=hunter2-hunter2", "--set", "postgresql.enabled=true",
    )  # fmt: skip
    (notifications,) = pod_spec(out.get("Deployment", "evently-notifications"))["containers"]
    assert _env(notifications)["SMTP_PASSWORD"] == {
        "secretKeyRef": {"name": "evently", "key": "SMTP_PASSWORD"}
    }
    secret = out.get("Secret", "evently")
    assert base64.b64decode(secret["data"]["SMTP_PASSWORD"]) == b"hunter2-hunter2"


def test_smtp_without_a_host_fails_with_what_to_set() -> None:
    error = _template_error(
        "--set", "mail.transport=smtp", "--set", "postgresql.enabled=true"
    )  # fmt: skip
    assert "mail.transport=smtp needs mail.smtp.host" in error


# --- network policies -------------------------------------------------------------------


def _peers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]


def test_network_policies_admit_only_services_ingress_controller_prometheus_and_helm_test(
    rendered: Rendered,
) -> None:
    for name in SERVICES:
        policy = rendered.get("NetworkPolicy", component(name))
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"]["ingress"]:
            assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        peers = _peers(policy)
        services = [p for p in peers if "namespaceSelector" not in p and p.get("podSelector", {})
                    .get("matchExpressions")]  # fmt: skip
        (expression,) = services[0]["podSelector"]["matchExpressions"]
        assert set(expression["values"]) == {*SERVICES, "operator", "test"}
        namespaces = [p["namespaceSelector"] for p in peers if "namespaceSelector" in p]
        assert {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}} in namespaces
        assert not [p for p in peers if p == {}], "an empty peer admits everyone"
    operator = rendered.get("NetworkPolicy", "evently-operator")
    assert all(
        "ingress-nginx" not in str(peer) and "matchExpressions" not in str(peer)
        for peer in _peers(operator)
    ), "only Prometheus and the helm test pod reach the operator's http port"
    test_pod = {"podSelector": {"matchLabels": {**_selector("test")}}}
    assert test_pod in _peers(operator)
    # The webhook port is open to anyone: the API server is no pod a selector could name.
    open_rules = [rule for rule in operator["spec"]["ingress"] if "from" not in rule]
    assert open_rules == [{"ports": [{"port": "webhook", "protocol": "TCP"}]}]


def _selector(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "evently",
        "app.kubernetes.io/instance": "evently",
        "app.kubernetes.io/component": component,
    }


def test_helm_test_pod_checks_every_service_and_the_first_admin(rendered: Rendered) -> None:
    """`helm test`: a pod locked down like the others, asking each service for /readyz."""
    (pod,) = [o for o in rendered.of_kind("Pod") if o["metadata"]["name"] == "evently-test"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    script = container["args"][0]
    for name in SERVICES:
        assert f'"{name.upper()}"' in script
    assert "/api/v1/auth/admin/login" in script and "OPERATOR_URL" in script


def test_dev_prometheus_config_and_rules_pass_promtool(chart_copy: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run hack/install-tools.sh (Debian prometheus)"
    (chart_copy / "files" / "prometheus").mkdir()
    (chart_copy / "files" / "prometheus" / "rules.yaml").write_text(RULES)
    out = _render_chart(chart_copy, *VALUE_SETS["dev"])
    data = out.get("ConfigMap", "evently-prometheus")["data"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(data["rules.yaml"])
    config = yaml.safe_load(data["prometheus.yml"])
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yaml"]
    config["rule_files"] = [str(rules)]
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["evently"]}}]
    # Debian's promtool is built without Kubernetes discovery (the image's is not): check
    # everything else, with the discovery swapped for a static target.
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rules found" in result.stdout


# Plausible stand-ins for what the Secret holds, to check the env the chart builds.
SECRET_STAND_INS = {
    "DATABASE_URL": "postgresql://evently:secret@evently-postgresql:5432/evently",
    "INTERNAL_API_KEY": "k" * 32,
    "JWT_SIGNING_KEYS": '{"key-1": "-----BEGIN PRIVATE KEY-----..."}',
    "TICKET_SIGNING_KEYS": '{"ticket-1": "-----BEGIN PRIVATE KEY-----..."}',
    "ADMISSION_SIGNING_KEYS": '{"admission-1": "-----BEGIN PRIVATE KEY-----..."}',
    "OPENSEARCH_URL": "https://opensearch:9200",
    "SMTP_PASSWORD": "smtp-password",
}


def _pod_environment(rendered: Rendered, container: dict[str, Any]) -> dict[str, str]:
    """The environment a container would get: ConfigMaps, then its env (Secrets stand-in)."""
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environ |= rendered.get("ConfigMap", source["configMapRef"]["name"])["data"]
    for entry in container.get("env", []):
        if "value" in entry:
            environ[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            environ[entry["name"]] = SECRET_STAND_INS[entry["valueFrom"]["secretKeyRef"]["key"]]
    return environ


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_each_service_accepts_the_environment_the_chart_gives_it(value_set: str) -> None:
    from evently.core.settings import load_settings
    from evently.services import load_service

    rendered = render(*VALUE_SETS[value_set], "--set", "opensearch.url=https://opensearch:9200")
    for name in SERVICES:
        (container,) = pod_spec(rendered.get("Deployment", component(name)))["containers"]
        environ = _pod_environment(rendered, container)
        settings = load_settings(load_service(name).settings_class, environ)
        assert settings.port == 8080
        assert settings.users_url == "http://evently-users:8080"
        assert settings.trusted_proxies, "the ingress controller's hops are trusted"
