"""``memorylink webhooks``: add, list, test, deliver, deliveries, remove against a real receiver."""

from __future__ import annotations

import json
from typing import Any

from cli_helpers import Cli
from standardwebhooks.webhooks import Webhook


def test_webhook_lifecycle_against_a_real_receiver(store_cli: Cli, receiver: Any) -> None:
    added = json.loads(store_cli.ok("webhooks", "add", receiver.url, "-e", "memory.*", "--json").stdout)
    secret = added["secret"]
    assert secret.startswith("whsec_") and added["events"] == ["memory.*"]
    listed = json.loads(store_cli.ok("webhooks", "list", "--json").stdout)
    assert [w["id"] for w in listed] == [added["id"]] and "secret" not in listed[0]
    assert secret not in store_cli.ok("webhooks", "list").stdout

    tested = json.loads(store_cli.ok("webhooks", "test", added["id"], "--json").stdout)
    assert tested["delivered"] is True and tested["status"] == 200
    memory_id = store_cli.ok("add", "delivered by the worker command").stdout.strip()
    store_cli.ok("webhooks", "deliver", "--seconds", "3")
    received = receiver.wait_for(2, timeout_s=30)
    verified = [Webhook(secret).verify(r.body, r.headers) for r in received]
    created = [event for event in verified if event["type"] == "memory.created"]
    assert [event["data"]["id"] for event in created] == [memory_id]

    deliveries = json.loads(store_cli.ok("webhooks", "deliveries", added["id"], "--json").stdout)
    assert any(d["state"] == "delivered" and d["event_type"] == "memory.created" for d in deliveries)
    assert store_cli.ok("webhooks", "remove", added["id"]).stdout.strip() == f"removed {added['id']}"
    assert store_cli("webhooks", "remove", added["id"]).returncode == 1


def test_a_failing_test_delivery_exits_4(store_cli: Cli, closed_port: str) -> None:
    added = json.loads(store_cli.ok("webhooks", "add", closed_port, "--json").stdout)
    result = store_cli("webhooks", "test", added["id"])
    assert result.returncode == 4
    assert "not delivered" in result.stdout
    assert store_cli("webhooks", "test", "wh_nope").returncode == 1
    bad_url = store_cli("webhooks", "add", "ftp://example.invalid/x")
    assert bad_url.returncode == 2
