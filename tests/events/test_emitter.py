"""EventEmitter: matching, ordering, isolation of failures, unsubscribe."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from memorylink.errors import ValidationError
from memorylink.events import Event, EventEmitter, RecordingSink


def make(event_type: str, n: int = 0) -> Event:
    return Event(id=f"e{n}", type=event_type, timestamp=datetime.now(UTC), source="test")


def test_types_and_prefixes() -> None:
    emitter = EventEmitter()
    exact: list[str] = []
    prefixed: list[str] = []
    everything: list[str] = []
    emitter.subscribe(lambda e: exact.append(e.type), types=["memory.created"])
    emitter.subscribe(lambda e: prefixed.append(e.type), types=["memory.*"])
    emitter.subscribe(lambda e: everything.append(e.type))
    for event_type in ["memory.created", "memory.deleted", "batch.completed"]:
        emitter.emit(make(event_type))
    assert exact == ["memory.created"]
    assert prefixed == ["memory.created", "memory.deleted"]
    assert everything == ["memory.created", "memory.deleted", "batch.completed"]
    assert emitter.has_listeners("batch.completed")


def test_failure_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    emitter = EventEmitter()
    received: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    emitter.subscribe(broken)
    emitter.subscribe(lambda e: received.append(e.id))
    with caplog.at_level(logging.ERROR):
        emitter.emit(make("memory.created", 1))
    assert received == ["e1"]
    assert "subscriber bug" in caplog.text


def test_unsubscribe_and_context_manager() -> None:
    emitter = EventEmitter()
    received: list[str] = []
    with emitter.subscribe(lambda e: received.append(e.id)):
        emitter.emit(make("memory.created", 1))
    emitter.emit(make("memory.created", 2))
    assert received == ["e1"]
    assert emitter.subscriber_count == 0
    assert not emitter.has_listeners("memory.created")


def test_sinks_receive_everything_in_order() -> None:
    sink = RecordingSink()
    emitter = EventEmitter([sink])
    for n in range(5):
        emitter.emit(make("memory.updated", n))
    assert [e.id for e in sink.events] == [f"e{n}" for n in range(5)]


def test_types_must_be_a_list() -> None:
    with pytest.raises(ValidationError):
        EventEmitter().subscribe(print, types="memory.created")  # type: ignore[arg-type]


def test_event_type_names_are_dotted() -> None:
    with pytest.raises(ValueError, match="type"):
        make("NotDotted")
