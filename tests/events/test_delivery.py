"""Webhook delivery against a real receiver on 127.0.0.1: signed, retried, ordered, at least once."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from memorylink import EventSettings, MemoryStore, Settings

# Deliveries are driven by store._delivery.run_once() unless a test says otherwise.
MANUAL = Settings(events=EventSettings(deliver=False, circuit_breaker_threshold=1000))
FAST_RETRY = {"max_attempts": 3, "initial_delay_s": 0.01, "max_delay_s": 0.05, "jitter": 0.0}


def verify(secret: str, request: Any) -> dict[str, Any]:
    """What a receiver does: check the signature with the standardwebhooks package."""
    result: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return result


def test_events_arrive_signed_and_verify_with_standardwebhooks(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url)
    memory = store.add("the cat sat on the mat", tags=["pets"])
    store.update(memory.id, text="the cat sat on the warm mat")
    store.delete(memory.id)
    drain(store._delivery.run_once)
    requests = receiver.wait_for(3)
    assert [verify(hook.secret, r)["type"] for r in requests] == ["memory.created", "memory.updated", "memory.deleted"]
    first = requests[0]
    assert first.headers["webhook-id"] == first.json["id"]
    assert first.headers["content-type"] == "application/json"
    assert "text" not in first.json["data"]  # the text only when the endpoint asks for it
    assert first.json["data"] == {"id": memory.id, "version": 1, "tags": ["pets"]}
    assert {d.state for d in store.webhooks.deliveries(hook.id)} == {"delivered"}


def test_include_text_and_bearer_token(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    store.webhooks.add(receiver.url, include_text=True, bearer_token="tok-123")
    store.add("remember the milk")
    drain(store._delivery.run_once)
    (request,) = receiver.wait_for(1)
    assert request.json["data"]["text"] == "remember the milk"
    assert request.headers["authorization"] == "Bearer tok-123"


def test_a_failing_receiver_is_retried_and_each_event_arrives_once_after_dedup(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url, retry={**FAST_RETRY, "max_attempts": 6})
    receiver.script = [500, 500, 503, 200, 502, 200]
    ids = [store.add(f"memory {n}").id for n in range(3)]
    drain(store._delivery.run_once)
    requests = receiver.wait_for(6)
    unique: dict[str, dict[str, Any]] = {}
    for request in requests:
        payload = verify(hook.secret, request)
        unique.setdefault(request.headers["webhook-id"], payload)
    assert [p["data"]["id"] for p in unique.values()] == ids  # in commit order
    first = store.webhooks.deliveries(hook.id)[-1]
    assert (first.state, first.attempts, first.last_status) == ("delivered", 4, 200)


def test_a_4xx_is_not_retried_and_is_dead_lettered_then_redelivered(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url, retry=FAST_RETRY)
    receiver.script = [400]
    first = store.add("refused")
    second = store.add("accepted")
    drain(store._delivery.run_once)
    assert len(receiver.wait_for(2)) == 2  # the 400 was not retried; the next event went on
    dead = store.webhooks.deliveries(hook.id, state="dead")
    assert [(d.attempts, d.last_status) for d in dead] == [(1, 400)]
    event_id = dead[0].event_id
    assert event_id is not None
    assert receiver.requests[0].json["data"]["id"] == first.id
    assert receiver.requests[1].json["data"]["id"] == second.id
    queued = store.webhooks.redeliver(hook.id, event_id)
    assert queued.state == "pending"
    drain(store._delivery.run_once)
    requests = receiver.wait_for(3)
    assert requests[2].headers["webhook-id"] == event_id
    assert store.webhooks.deliveries(hook.id, state="dead") == []


def test_retries_run_out_into_a_dead_letter(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url, retry=FAST_RETRY)
    receiver.default = 500
    store.add("never accepted")
    drain(store._delivery.run_once)
    assert len(receiver.wait_for(3)) == 3
    (dead,) = store.webhooks.deliveries(hook.id)
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "HTTP 500")


def test_retry_after_is_honoured(open_store: Callable[..., MemoryStore], receiver: Any) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url, retry={**FAST_RETRY, "max_delay_s": 600})
    receiver.script = [(429, {"Retry-After": "120"})]
    store.add("slow down")
    wait_s = store._delivery.run_once()
    assert 100 < wait_s <= 120
    (pending,) = store.webhooks.deliveries(hook.id)
    assert pending.state == "pending" and pending.last_status == 429
    assert pending.next_attempt_at is not None
    store._delivery.run_once()
    assert len(receiver.requests) == 1  # not due yet


def test_event_and_scope_filters_are_honoured(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    store.webhooks.add(receiver.url, events=["memory.deleted"])
    store.webhooks.add(receiver.url + "?ann", events=["memory.*"], user_id="ann")
    ann = store.add("ann's note", user_id="ann")
    store.add("bob's note", user_id="bob")
    store.add_many(["batch one"])
    store.delete(ann.id)
    drain(store._delivery.run_once)
    requests = receiver.wait_for(3)
    seen = sorted((r.path, r.json["type"], r.json["user_id"]) for r in requests)
    assert seen == [
        ("/hook", "memory.deleted", "ann"),
        ("/hook?ann", "memory.created", "ann"),
        ("/hook?ann", "memory.deleted", "ann"),
    ]


def test_a_removed_or_disabled_endpoint_gets_nothing_more(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    kept = store.webhooks.add(receiver.url + "?kept")
    removed = store.webhooks.add(receiver.url + "?removed")
    paused = store.webhooks.add(receiver.url + "?paused")
    store.add("before")
    drain(store._delivery.run_once)
    assert len(receiver.wait_for(3)) == 3
    assert store.webhooks.remove(removed.id) is True
    store.webhooks.disable(paused.id)
    store.add("after")
    drain(store._delivery.run_once)
    time.sleep(0.1)
    paths = [r.path for r in receiver.requests[3:]]
    assert paths == ["/hook?kept"]
    # Re-enabled, the paused endpoint catches up on what it missed.
    store.webhooks.enable(paused.id)
    drain(store._delivery.run_once)
    assert [r.path for r in receiver.wait_for(5)[4:]] == ["/hook?paused"]
    assert store.webhooks.get(kept.id).enabled


def test_an_endpoint_gets_only_events_committed_after_it_was_added(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=Settings(events=EventSettings(outbox="always", deliver=False)))
    store.add("before the endpoint")
    store.webhooks.add(receiver.url)
    after = store.add("after the endpoint")
    drain(store._delivery.run_once)
    assert [r.json["data"]["id"] for r in receiver.wait_for(1)] == [after.id]


def test_secret_rotation_signs_with_both_secrets(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url)
    rotated = store.webhooks.rotate_secret(hook.id, keep_old_for_s=3600)
    store.add("signed twice")
    drain(store._delivery.run_once)
    (request,) = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verify(hook.secret, request)
    verify(rotated.secret, request)
    final = store.webhooks.rotate_secret(hook.id, keep_old_for_s=0)
    store.add("signed once")
    drain(store._delivery.run_once)
    request = receiver.wait_for(2)[1]
    verify(final.secret, request)
    with pytest.raises(WebhookVerificationError):
        verify(rotated.secret, request)


def test_the_background_worker_delivers_without_being_asked(
    open_store: Callable[..., MemoryStore], receiver: Any
) -> None:
    store = open_store(settings=Settings(events=EventSettings(delivery_poll_interval_s=0.2)))
    hook = store.webhooks.add(receiver.url)
    assert store._delivery.running
    memory = store.add("delivered in the background")
    (request,) = receiver.wait_for(1)
    assert verify(hook.secret, request)["data"]["id"] == memory.id
    store.close()
    assert not store._delivery.running


def test_pending_events_are_delivered_after_a_reopen(
    open_store: Callable[..., MemoryStore], receiver: Any, closed_port: str
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url)
    ids = [store.add(f"queued {n}").id for n in range(3)]
    store.close()  # nothing delivered yet
    reopened = open_store(settings=Settings(events=EventSettings(delivery_poll_interval_s=0.2)))
    assert reopened._delivery.running
    requests = receiver.wait_for(3)
    assert [r.json["data"]["id"] for r in requests] == ids
    assert all(verify(hook.secret, r) for r in requests)


def test_one_process_delivers_at_a_time(open_store: Callable[..., MemoryStore], receiver: Any) -> None:
    first = open_store(settings=MANUAL)
    second = open_store(settings=MANUAL)
    first.webhooks.add(receiver.url)
    first.add("once")
    first._delivery.run_once()
    second._delivery.run_once()  # the lease is first's: second sends nothing
    assert len(receiver.wait_for(1)) == 1
    time.sleep(0.1)
    assert len(receiver.requests) == 1
    first.close()  # releases the lease
    first_after = second.add("twice")
    second._delivery.run_once()
    assert receiver.wait_for(2)[1].json["data"]["id"] == first_after.id


def test_the_circuit_breaker_stops_hammering_a_dead_receiver(
    open_store: Callable[..., MemoryStore], closed_port: str
) -> None:
    settings = Settings(
        events=EventSettings(deliver=False, circuit_breaker_threshold=2, circuit_breaker_cooldown_s=3600)
    )
    store = open_store(settings=settings)
    hook = store.webhooks.add(closed_port, retry={**FAST_RETRY, "max_attempts": 50})
    store.add("nobody home")
    for _ in range(10):
        store._delivery.run_once()
        time.sleep(0.06)
    (pending,) = store.webhooks.deliveries(hook.id)
    assert pending.state == "pending"
    assert pending.attempts == 2  # then the circuit opened
    assert pending.last_status is None and pending.last_error


def test_webhook_test_sends_one_signed_event(open_store: Callable[..., MemoryStore], receiver: Any) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url)
    result = store.webhooks.test(hook.id)
    assert result.status == 200
    (request,) = receiver.wait_for(1)
    assert verify(hook.secret, request)["type"] == "webhook.test"
    assert store._outbox.read(0) == []


def test_webhook_settings_and_outbox_are_encrypted_and_survive_key_rotation(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None], tmp_path: Path
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url, bearer_token="canary-token-55", description="canary-desc-91")
    store.add("canary-text-27")
    store.rotate_key(key=base64.b64encode(bytes(range(1, 33))).decode())
    store.add("after rotation")
    drain(store._delivery.run_once)
    assert len(receiver.wait_for(2)) == 2
    assert store.webhooks.get(hook.id).description == "canary-desc-91"
    store.close()
    for path in (tmp_path / "store").iterdir():
        data = path.read_bytes()
        for needle in ("canary-token-55", "canary-desc-91", "canary-text-27", "127.0.0.1", hook.secret[6:]):
            assert needle.encode() not in data, (needle, path.name)


def test_the_outbox_keeps_at_most_retention_max_events_but_never_ahead_of_an_enabled_endpoint(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    capped = EventSettings(deliver=False, outbox="always", retention_max_events=3, prune_interval_s=1e-6)
    store = open_store(settings=Settings(events=capped))
    ids = [store.add(f"capped {n}").id for n in range(7)]
    store._delivery.run_once()
    assert [r.event.data["id"] for r in store._outbox.read(0)] == ids[-3:]  # the newest three, whatever their age
    # An endpoint that has had none of the next events holds them past the cap.
    receiver.default = 500
    store.webhooks.add(receiver.url + "?down", retry={"max_attempts": 50, "initial_delay_s": 60})
    held = [store.add(f"held {n}").id for n in range(5)]
    store._delivery.run_once()
    time.sleep(0.01)
    store._delivery.run_once()
    assert [r.event.data["id"] for r in store._outbox.read(0)] == held


def test_with_outbox_always_the_worker_prunes_without_any_endpoint(open_store: Callable[..., MemoryStore]) -> None:
    events = EventSettings(outbox="always", retention_days=1e-9, prune_interval_s=1e-6, delivery_poll_interval_s=0.01)
    store = open_store(settings=Settings(events=events))
    assert store._delivery.running  # no endpoint exists: the worker runs for the retention alone
    store.add("past the retention at once")
    deadline = time.monotonic() + 10
    while store._outbox.read(0) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store._outbox.read(0) == []


def test_without_an_enabled_endpoint_commits_do_not_each_wake_the_worker(
    open_store: Callable[..., MemoryStore], receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll interval longer than the test: every round counted here came from a commit or a wake().
    events = EventSettings(outbox="always", delivery_poll_interval_s=60)
    store = open_store(settings=Settings(events=events))
    rounds: list[float] = []
    run_once = store._delivery.run_once

    def counted() -> float:
        rounds.append(time.monotonic())
        return run_once()

    monkeypatch.setattr(store._delivery, "run_once", counted)
    store._delivery.wake()  # the worker's first wait began before the patch; this round is counted
    deadline = time.monotonic() + 10
    while not rounds and time.monotonic() < deadline:
        time.sleep(0.01)
    before = len(rounds)
    for n in range(30):
        store.add(f"no endpoint to tell {n}")
    assert len(rounds) == before == 1
    # Adding an endpoint wakes it, and from then on commits are delivered promptly.
    store.webhooks.add(receiver.url)
    store.add("for the new endpoint")
    assert receiver.wait_for(1, timeout_s=10)[0].json["type"] == "memory.created"


def test_an_event_committed_during_a_delivery_round_is_not_slept_through(
    open_store: Callable[..., MemoryStore], receiver: Any
) -> None:
    # A long poll interval: only this process's own wake-ups can make delivery prompt.
    store = open_store(settings=Settings(events=EventSettings(delivery_poll_interval_s=60)))
    store.webhooks.add(receiver.url)
    for n in range(1, 21):
        store.add(f"one after another {n}")  # committed while the previous round is finishing
        assert len(receiver.wait_for(n, timeout_s=5)) == n, f"event {n} waited for the poll interval"


def test_the_outbox_is_pruned_past_the_retention_but_never_ahead_of_an_enabled_endpoint(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    retention = EventSettings(deliver=False, retention_days=1e-9, prune_interval_s=1e-6)
    store = open_store(settings=Settings(events=retention))
    delivered = store.webhooks.add(receiver.url + "?fast")
    store.add("delivered, then pruned")
    drain(store._delivery.run_once)
    assert store._outbox.read(0) == []
    assert [d.event_id for d in store.webhooks.deliveries(delivered.id)] == []  # records go with their events
    # An enabled endpoint that has not had an event yet holds it, whatever its age.
    receiver.default = 500
    slow = store.webhooks.add(receiver.url + "?slow", retry={"max_attempts": 50, "initial_delay_s": 60})
    store.webhooks.disable(delivered.id)
    kept = store.add("waiting for the slow endpoint")
    store._delivery.run_once()
    time.sleep(0.01)
    store._delivery.run_once()
    assert [r.event.data["id"] for r in store._outbox.read(0)] == [kept.id]
    assert store.webhooks.deliveries(slow.id)[0].state == "pending"


def test_a_redelivery_queued_before_the_filter_narrowed_is_not_sent(
    open_store: Callable[..., MemoryStore], receiver: Any, drain: Callable[..., None]
) -> None:
    store = open_store(settings=MANUAL)
    hook = store.webhooks.add(receiver.url)
    bobs = store.add("bob's note", user_id="bob")
    drain(store._delivery.run_once)
    (sent,) = receiver.wait_for(1)
    queued = store.webhooks.redeliver(hook.id, sent.headers["webhook-id"])
    assert queued.state == "pending"
    store.webhooks.update(hook.id, user_id="alice")  # the endpoint now takes only alice's events
    drain(store._delivery.run_once)
    assert [r.json["data"]["id"] for r in receiver.requests] == [bobs.id]  # not sent again
    (dropped,) = store.webhooks.deliveries(hook.id, state="dead")
    assert dropped.event_id == sent.headers["webhook-id"]
    assert dropped.last_error == "not in the endpoint's filter"
