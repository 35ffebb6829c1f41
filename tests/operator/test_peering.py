"""Two operator replicas: kopf peering lets only the higher-priority one act."""

from __future__ import annotations

import asyncio

from tests.operator.conftest import event_manifest, wait_for

RECONCILES = "evently_operator_reconciles_total"


async def test_a_second_operator_does_not_double_act(start_operator, resources, kube, namespace):
    leader = start_operator(PEERING_PRIORITY="200")
    standby = start_operator(PEERING_PRIORITY="100")

    def peers() -> dict:
        peering = kube.kubectl_json("-n", namespace, "get", "kopfpeerings", "evently-operator")
        return peering.get("status") or {}

    # Both replicas announce themselves; the standby starts paused and stays so.
    await wait_for(lambda: len(peers()) == 2, what="two peers")
    assert sorted(p["priority"] for p in peers().values()) == [100, 200]

    resources.apply(event_manifest("solo"))
    await wait_for(lambda: resources.status("solo").get("eventId"), what="eventId")
    await asyncio.sleep(3)  # a few level passes (1 s each) for the standby to misbehave in
    assert leader.metric(RECONCILES) >= 1
    assert standby.metric(RECONCILES) == 0
    assert "Resuming operations" not in standby.log()

    # The leader leaves (it withdraws from the peering on the way out): the standby takes over.
    leader.stop()
    await wait_for(lambda: "Resuming operations" in standby.log(), what="the standby to resume")
    resources.apply(event_manifest("after"))
    await wait_for(lambda: resources.status("after").get("eventId"), what="eventId by the standby")
    assert standby.metric(RECONCILES, trigger="create") >= 1


async def test_replicas_starting_together_never_both_act(start_operator, resources):
    names = [f"early-{i}" for i in range(5)]
    for name in names:  # applied while no operator runs
        resources.apply(event_manifest(name))
    # As in a Recreate rollout: the weaker replica happens to start first.
    standby = start_operator(PEERING_PRIORITY="100", PEERING_SETTLE_S="8", wait=False)
    leader = start_operator(PEERING_PRIORITY="200", PEERING_SETTLE_S="8", wait=False)
    standby.wait_started()
    leader.wait_started()
    await wait_for(
        lambda: all(resources.status(n).get("eventId") for n in names),
        within=40,
        what="every eventId",
    )
    await asyncio.sleep(2)  # a moment for a misbehaving standby to show itself
    assert leader.metric(RECONCILES, trigger="create") >= len(names)
    assert standby.metric(RECONCILES) == 0
    assert "reconcile-created" not in standby.log()
