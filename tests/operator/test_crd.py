"""The CRD as kubectl users meet it, the samples, and the test cluster harness itself."""

from __future__ import annotations

import pytest
import yaml

from tests.operator.conftest import CRDS, SAMPLES, event_manifest
from tests.support.kube import KubeToolsMissing, find_binaries


def test_the_samples_pass_the_api_servers_validation(kube):
    kube.kubectl("create", "namespace", "evently", check=False)  # the chart's namespace
    result = kube.kubectl("apply", "--dry-run=server", "-f", str(SAMPLES))
    assert "aurora-live-2027 created (server dry run)" in result.stdout
    assert "open-mic-night created (server dry run)" in result.stdout


def test_short_name_category_and_printer_columns(kube, namespace):
    crd = kube.kubectl_json("get", "crd", "events.evently.io")
    names = crd["spec"]["names"]
    assert (names["shortNames"], names["categories"]) == (["evt"], ["evently"])
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == [
        "Phase", "Ready", "Sold", "Available", "Capacity", "Queue", "Starts", "Opens", "Age",
    ]  # fmt: skip
    assert kube.kubectl("-n", namespace, "get", "evently").returncode == 0


def test_kubectl_explain_describes_the_status(kube):
    def explain(field: str) -> str:
        # The API server publishes the CRD's schema a moment after it is established.
        return kube.kubectl("explain", f"evt.{field}", check=False).stdout

    for field, words in {
        "status.phase": "OnSale: between opensAt and closesAt",
        "status.sold": "Tickets sold",
        "status.conditions": "Ready (reason: the phase",
    }.items():
        text = explain(field)
        assert words in " ".join(text.split()), text


def test_the_crd_stays_within_kubernetes_1_20():
    crd = yaml.safe_load((CRDS / "evently.io_events.yaml").read_text())
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert "x-kubernetes-validations" not in (CRDS / "evently.io_events.yaml").read_text()


def test_missing_binaries_fail_with_the_way_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTLY_TOOLS", str(tmp_path))
    monkeypatch.setenv("EVENTLY_KUBE_BIN", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KubeToolsMissing) as failure:
        find_binaries()
    message = str(failure.value)
    assert "kube-apiserver" in message and "etcd" in message and "hack/install-tools.sh" in message


def test_the_api_server_takes_the_hold_policies_and_refuses_malformed_ones(kube, namespace):
    def dry_run(**sale):
        manifest = yaml.safe_dump(event_manifest("policies", sale=sale))
        return kube.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", "-",
                            input=manifest, check=False)  # fmt: skip

    accepted = dry_run(requireVerifiedEmail=True, holdExpiryReminder="2m")
    assert accepted.returncode == 0, accepted.stderr
    for field, value in (("requireVerifiedEmail", "yes"), ("holdExpiryReminder", "2 minutes")):
        refused = dry_run(**{field: value})
        assert refused.returncode != 0 and field in refused.stderr, refused.stderr
