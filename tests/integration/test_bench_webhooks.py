"""bench/webhooks.py on a small workload: every event is delivered once over loopback HTTP, and a
create's events are items of its own transaction (no added DynamoDB call)."""

from __future__ import annotations

from bench import webhooks


def test_the_webhook_bench_delivers_every_event_once_and_finds_no_added_call():
    figures, details = webhooks.measure(events_count=12, writes=2)

    throughput = details["throughput"]
    assert throughput["exactly_once"] and throughput["delivered"] == 12
    assert throughput["stream_batches"] >= 12 / webhooks.STREAM_BATCH
    cost = details["event_cost"]
    assert cost["with"]["calls"] == cost["without"]["calls"] == 1  # one TransactWriteItems
    assert cost["with"]["items"] == cost["without"]["items"] + 2  # model.created, version.created
    assert [figure.section for figure in figures] == ["webhooks"] * 3
    assert figures[1].holds is True
