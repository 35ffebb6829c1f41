"""The phase follows the clock: short sale windows, a one-second level pass."""

from __future__ import annotations

from tests.operator.conftest import event_manifest, wait_for


async def test_the_phase_moves_from_scheduled_to_on_sale_to_closed(operator, resources):
    resources.apply(event_manifest("flash", opens_in=5, closes_in=8))
    seen: list[str] = []

    def closed() -> bool:
        phase = resources.status("flash").get("phase")
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
        return phase == "Closed"

    await wait_for(closed, within=30, what="Closed")
    assert seen == ["Scheduled", "OnSale", "Closed"]
    messages = [
        e["message"] for e in resources.k8s_events("flash") if e["reason"] == "PhaseChanged"
    ]
    # The first phase is in the Created Event; then one PhaseChanged per move.
    created = [e["message"] for e in resources.k8s_events("flash") if e["reason"] == "Created"]
    assert created and created[0].endswith(": Scheduled"), created
    assert any(m.startswith("Scheduled -> OnSale") for m in messages), messages
    assert any(m.startswith("OnSale -> Closed") for m in messages), messages
