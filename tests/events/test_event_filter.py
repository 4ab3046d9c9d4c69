"""EventFilter: parsing, matching against a plain reference, round-trips and validation errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.errors import ValidationError
from memorylink.events.event_filter import MAX_PATTERNS, EventFilter


def reference_matches(patterns: list[str] | None, event_type: str) -> bool:
    """What a filter built from ``patterns`` should let through, by comparing dot-separated segments."""
    if patterns is None:
        return True
    parts = event_type.split(".")
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*"):
            head = pattern.split(".")[:-1]
            if len(parts) > len(head) and parts[: len(head)] == head:
                return True
    return False


# --------------------------------------------------------------------------- special values


@pytest.mark.parametrize("value", [None, "*", "all", ["*"], ["memory.created", "*"], ("*", "*")])
def test_every_event(value: Any) -> None:
    parsed = EventFilter.parse(value)
    assert parsed.matches_all and not parsed.matches_none
    assert parsed.to_list() is None
    assert parsed.matches("memory.created") and parsed.matches("anything.at.all")
    assert parsed == EventFilter.parse(None)


@pytest.mark.parametrize("value", ["none", [], (), iter([])])
def test_no_event(value: Any) -> None:
    parsed = EventFilter.parse(value)
    assert parsed.matches_none and not parsed.matches_all
    assert parsed.to_list() == []
    assert not parsed.matches("memory.created")
    assert parsed == EventFilter.parse([])


@pytest.mark.parametrize("value", ["memory.*", "memory.created"])
def test_a_bare_string_is_one_pattern(value: str) -> None:
    assert EventFilter.parse(value) == EventFilter.parse([value])
    assert EventFilter.parse(value).to_list() == [value]


def test_exact_names() -> None:
    parsed = EventFilter.parse(["memory.created", "memory.deleted"])
    assert parsed.matches("memory.created") and parsed.matches("memory.deleted")
    assert not parsed.matches("memory.updated")
    assert not parsed.matches("memory.created.extra")
    assert not parsed.matches("memory")
    assert not parsed.matches_all and not parsed.matches_none


def test_prefix_patterns_match_whole_segments_below_the_prefix() -> None:
    parsed = EventFilter.parse(["memory.*"])
    assert parsed.matches("memory.created")
    assert parsed.matches("memory.sub.deep")
    assert not parsed.matches("memory")
    assert not parsed.matches("memoryx.created")
    assert not parsed.matches("other.memory.created")
    deeper = EventFilter.parse("memory.sub.*")
    assert deeper.matches("memory.sub.x")
    assert not deeper.matches("memory.sub")
    assert not deeper.matches("memory.subx.y")
    assert not deeper.matches("memory.created")


def test_duplicates_collapse_and_order_does_not_matter() -> None:
    one = EventFilter.parse(["memory.created", "webhook.*", "memory.created", "webhook.*"])
    two = EventFilter.parse(["webhook.*", "memory.created"])
    assert one == two and hash(one) == hash(two)
    assert one.to_list() == ["memory.created", "webhook.*"]


def test_equality_and_hash() -> None:
    assert EventFilter.parse(["a.b"]) != EventFilter.parse(["a.*"])
    assert EventFilter.parse(None) != EventFilter.parse([])
    assert EventFilter.parse([]) != "none"
    assert len({EventFilter.parse("all"), EventFilter.parse(None), EventFilter.parse("*")}) == 1


def test_repr_is_readable() -> None:
    assert repr(EventFilter.parse(None)) == "EventFilter(all)"
    assert repr(EventFilter.parse([])) == "EventFilter([])"
    assert repr(EventFilter.parse(["memory.*", "a.b"])) == "EventFilter(['a.b', 'memory.*'])"


def test_immutable() -> None:
    parsed = EventFilter.parse(["memory.created"])
    with pytest.raises(AttributeError):
        parsed._all = True
    with pytest.raises(AttributeError):
        parsed.extra = 1
    with pytest.raises(AttributeError):
        del parsed._names
    with pytest.raises(AttributeError):
        parsed.matches_all = True  # type: ignore[misc]
    assert not hasattr(parsed, "__dict__")
    assert parsed.to_list() == ["memory.created"] and not parsed.matches_all


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "entry",
    [
        "Memory.created",
        "memory.Created",
        "MEMORY.*",
        "memory created",
        "memory.created ",
        " memory.created",
        "memory.created\n",
        "memory.*\n",
        "memory.",
        "memory",
        ".created",
        ".*",
        "*.created",
        "memory.*.created",
        "memory.**",
        "memory*",
        "memory..created",
        "1memory.created",
        "memory.1created",
        "_memory.created",
        "memory-x.created",
        "memory.cré",
        "",
        "all",
        "none",
        "**",
    ],
)
def test_bad_entries_are_named(entry: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EventFilter.parse(["memory.created", entry])
    assert caught.value.field == "events"
    assert repr(entry) in caught.value.message
    assert "memory.*" in caught.value.message  # the accepted forms are spelled out


@pytest.mark.parametrize("entry", [None, 5, 1.5, b"memory.created", ["memory.created"], ("memory.*",)])
def test_non_string_entries(entry: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        EventFilter.parse(["memory.created", entry])
    assert caught.value.field == "events"
    assert repr(entry) in caught.value.message


@pytest.mark.parametrize("value", [5, 1.5, object()])
def test_non_iterable_values(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        EventFilter.parse(value)
    assert caught.value.field == "events"


@pytest.mark.parametrize("value", ["ALL", "None", " all", "memory", ""])
def test_bad_bare_strings(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EventFilter.parse(value)
    assert caught.value.field == "events"


def test_at_most_64_patterns() -> None:
    names = [f"memory.e{i}" for i in range(MAX_PATTERNS + 1)]
    assert MAX_PATTERNS == 64
    assert len(EventFilter.parse(names[:64]).to_list() or []) == 64
    assert EventFilter.parse([*names[:64], names[0], names[63]]).to_list() == sorted(names[:64])  # duplicates
    with pytest.raises(ValidationError, match="64") as caught:
        EventFilter.parse(names)
    assert caught.value.field == "events"


# --------------------------------------------------------------------------- properties

segments = st.sampled_from(["memory", "memoryx", "created", "deleted", "sub", "a", "a_1", "webhook", "z9"])
dotted = st.lists(segments, min_size=1, max_size=4).map(".".join)
names = st.lists(segments, min_size=2, max_size=4).map(".".join)
prefixes = st.lists(segments, min_size=1, max_size=3).map(lambda parts: ".".join(parts) + ".*")
patterns = st.lists(st.one_of(names, prefixes, names, prefixes, st.just("*")), max_size=12)
event_types = st.one_of(dotted, dotted, st.text(max_size=20), dotted.map(lambda t: t + "."))


@settings(max_examples=300)
@given(patterns=patterns, event_type=event_types)
def test_matches_agrees_with_the_reference(patterns: list[str], event_type: str) -> None:
    parsed = EventFilter.parse(patterns)
    assert parsed.matches(event_type) == reference_matches(patterns, event_type)
    assert parsed.matches_all == ("*" in patterns)
    assert parsed.matches_none == (not patterns)


@settings(max_examples=200)
@given(patterns=patterns, event_type=event_types, data=st.data())
def test_to_list_round_trips(patterns: list[str], event_type: str, data: st.DataObject) -> None:
    parsed = EventFilter.parse(patterns)
    listed = parsed.to_list()
    if "*" in patterns:
        assert listed is None
    else:
        assert listed == sorted(set(patterns))
    again = EventFilter.parse(listed)
    assert again == parsed and hash(again) == hash(parsed)
    assert again.to_list() == listed
    assert again.matches(event_type) == parsed.matches(event_type) == reference_matches(listed, event_type)
    shuffled = data.draw(st.permutations(patterns + patterns[: len(patterns) // 2]))
    assert EventFilter.parse(shuffled) == parsed
