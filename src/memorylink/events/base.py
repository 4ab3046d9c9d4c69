"""The EventSink role: something that receives every emitted event."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from memorylink.events.models import Event

__all__ = ["EventSink"]


@runtime_checkable
class EventSink(Protocol):
    """Contract for sinks: ``handle`` is called once per event, in emission order, after the
    change that caused it committed. It must not block for long and should not raise; an
    exception is logged by the emitter and never reaches the caller of the write."""

    def handle(self, event: Event) -> None: ...
