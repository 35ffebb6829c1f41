"""The test cluster's small helpers (hack/cluster/), run on their own: the runc wrapper
that clamps the pod sandbox's oom_score_adj, and the DNS feeder's name table.
(tests/e2e runs the whole cluster.)"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

from tests.deploy.chart import ROOT

HELPERS = ROOT / "hack" / "cluster"


def _feeder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dns_feeder", HELPERS / "dns-feeder.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bundle(tmp_path: Path, adj: int) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    config = {"ociVersion": "1.0.2", "process": {"oomScoreAdj": adj, "args": ["/pause"]}}
    (bundle / "config.json").write_text(json.dumps(config, separators=(",", ":")))
    return bundle


def _run_wrapper(tmp_path: Path, *args: str) -> list[str]:
    fake = tmp_path / "runc"
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/argv"\n')
    fake.chmod(0o755)
    env = os.environ | {"EVENTLY_RUNC": str(fake)}
    subprocess.run([str(HELPERS / "runc-wrapper.sh"), *args], env=env, check=True, timeout=10)
    return (tmp_path / "argv").read_text().split()


def test_runc_wrapper_clamps_a_negative_oom_score_adj_on_create(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, -998)
    argv = ["--root", "/x", "create", "--bundle", str(bundle), "--pid-file", "p", "id1"]
    assert _run_wrapper(tmp_path, *argv) == argv, "runc gets the arguments unchanged"
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["oomScoreAdj"] == 0


def test_runc_wrapper_leaves_other_commands_and_values_alone(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, -998)
    _run_wrapper(tmp_path, "state", "--bundle", str(bundle), "id1")
    assert json.loads((bundle / "config.json").read_text())["process"]["oomScoreAdj"] == -998
    positive = tmp_path / "positive"
    positive.mkdir()
    (positive / "config.json").write_text('{"process":{"oomScoreAdj":1000}}')
    _run_wrapper(tmp_path, "create", f"--bundle={positive}", "id2")
    assert json.loads((positive / "config.json").read_text())["process"]["oomScoreAdj"] == 1000


def test_dns_feeder_names_cluster_ips_headless_endpoints_and_statefulset_pods() -> None:
    services = [
        {"metadata": {"namespace": "shop", "name": "web"}, "spec": {"clusterIP": "10.0.0.7"}},
        {"metadata": {"namespace": "shop", "name": "db-headless"}, "spec": {"clusterIP": "None"}},
    ]
    endpoints = [
        {
            "metadata": {"namespace": "shop", "name": "db-headless"},
            "subsets": [{"addresses": [{"ip": "10.244.0.9", "hostname": "db-0"}]}],
        }
    ]
    assert _feeder().host_lines(services, endpoints) == [
        "10.0.0.7 web.shop.svc.cluster.local",
        "10.244.0.9 db-0.db-headless.shop.svc.cluster.local",
        "10.244.0.9 db-headless.shop.svc.cluster.local",
    ]
