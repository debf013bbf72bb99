"""A real worker on the real broker catches every attack and leaves the decoys alone."""

from __future__ import annotations

from collections import Counter

from tests.e2e.helpers import feed, named, read_alerts, simulate

ATTACKS = ("burst_scraper", "low_and_slow", "credential_stuffing")
DECOYS = ("heavy_shopper", "uptime_probe", "flash_sale")


def test_every_scenario_alerts_and_decoys_stay_quiet(settings_factory, worker_factory):
    settings = settings_factory(requests_partitions=3, idle_close_seconds=3)
    worker = worker_factory(settings)
    events, labels = simulate()
    sent = feed(settings, events).sent

    worker.wait_metric("scrapewatch_events_total", sent, result="processed")
    alerts = read_alerts(settings, idle=8.0)  # decode_alert validates against alert.v1
    by_entity = named(alerts)

    for scenario in ATTACKS:
        entities = [lab["entity"] for lab in labels if lab["scenario"] == scenario]
        assert entities, scenario
        caught = [e for e in entities if e in by_entity]
        assert caught, f"{scenario}: no alert names any of {entities[:5]}"

    farm = [lab["entity"] for lab in labels if lab["scenario"] == "farm"]
    in_campaigns = {
        m
        for a in alerts
        if a["entity_type"] == "campaign"
        for m in a["evidence"].get("members", [])
    }
    assert len(in_campaigns & set(farm)) >= 0.8 * len(farm), (
        f"campaign alerts name {len(in_campaigns & set(farm))} of {len(farm)} farm accounts"
    )

    for scenario in DECOYS:
        for lab in (lab for lab in labels if lab["scenario"] == scenario):
            loud = [a for a in by_entity.get(lab["entity"], []) if a["severity"] != "low"]
            assert not loud, f"decoy {scenario} {lab['entity']} alerted: {loud[0]['reasons']}"

    counted = worker.metric("scrapewatch_alerts_total")
    assert counted == len(alerts), Counter(a["detector"] for a in alerts)
