"""The operator works with exactly the permissions operator/evently_operator/rbac.yaml lists."""

from __future__ import annotations

import yaml

from evently.events import repository
from tests.operator.conftest import REPO, event_manifest, row_of, wait_for
from tests.operator.test_scaling_live import deployment, replicas, scaling

RBAC = REPO / "operator" / "evently_operator" / "rbac.yaml"


async def test_the_documented_cluster_role_is_enough(
    kube, namespace, start_operator, resources, db
):
    role = yaml.safe_load(RBAC.read_text())
    role["metadata"]["name"] = f"evently-operator-{namespace}"
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(role))
    kube.kubectl(
        "create", "clusterrolebinding", role["metadata"]["name"],
        f"--clusterrole={role['metadata']['name']}",
        f"--serviceaccount={namespace}:evently-operator",
    )  # fmt: skip
    kubeconfig = kube.service_account_kubeconfig(namespace, "evently-operator")
    denied = kube.kubectl(
        f"--kubeconfig={kubeconfig}", "-n", namespace, "get", "secrets", check=False
    )
    assert "forbidden" in denied.stderr  # really a restricted account, not the admin

    start_operator(KUBECONFIG=str(kubeconfig))
    resources.apply(deployment("tickets", 1))
    resources.apply(event_manifest("ruled", opens_in=-5, closes_in=600,
                                   scaling=scaling("tickets", 2)))  # fmt: skip
    await wait_for(lambda: resources.status("ruled").get("phase") == "OnSale", what="OnSale")
    await wait_for(lambda: replicas(resources, "tickets") == 2, what="scaled")
    await wait_for(lambda: "Created" in resources.reasons("ruled"), what="a Kubernetes Event")
    event_id = resources.status("ruled")["eventId"]
    resources.delete("ruled")
    await wait_for(lambda: resources.get("ruled") is None, what="finalized")
    assert await row_of(db, namespace, "ruled") is None  # released
    assert (await repository.get_event(db, event_id)).status == "cancelled"
