"""Tests for memorylink.filters: the filter language shared by every front-end."""

from __future__ import annotations

import json
import math
import pickle
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memorylink.errors import LimitExceededError, ValidationError
from memorylink.filters import MAX_DEPTH, MAX_NODES, MAX_VALUES, Filter, FilterTarget, compile_filter
from memorylink.models import Memory

DOCS = Path(__file__).resolve().parents[1] / "docs" / "filters.md"
JAN1 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Rec:
    """A minimal FilterTarget."""

    user_id: str = "alice"
    agent_id: str | None = None
    run_id: str | None = None
    tags: Any = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = datetime(2024, 2, 1, tzinfo=UTC)
    updated_at: datetime = datetime(2024, 3, 1, tzinfo=UTC)


def parse(spec: Any) -> Filter:
    parsed = Filter.parse(spec)
    assert parsed is not None
    return parsed


def matches(spec: Any, record: FilterTarget) -> bool:
    return parse(spec).matches(record)


def meta(**values: Any) -> Rec:
    return Rec(metadata=values)


# --------------------------------------------------------------------------- basics


def test_empty_filter_matches_everything() -> None:
    empty = parse({})
    for record in (Rec(), Rec(tags=["a"], metadata={"x": 1}), Rec(agent_id="a", run_id="r")):
        assert empty.matches(record)
    assert empty.fields == frozenset()
    assert empty.to_dict() == {}


def test_design_example() -> None:
    spec = {
        "tags": {"any": ["meeting", "q4"]},
        "created_at": {"gte": "2024-01-01", "lt": "2024-04-01"},
        "metadata.source": "zoom",
        "metadata.priority": {"in": ["high", "urgent"]},
        "or": [{"metadata.duration_minutes": {"gt": 30}}, {"not": {"tags": {"any": ["draft"]}}}],
    }
    f = parse(spec)
    good = {"source": "zoom", "priority": "high", "duration_minutes": 15}
    assert f.matches(Rec(tags=["meeting"], metadata=good))
    assert not f.matches(Rec(tags=["meeting", "draft"], metadata=good))
    assert f.matches(Rec(tags=["q4", "draft"], metadata={**good, "duration_minutes": 31}))
    assert not f.matches(Rec(tags=["other"], metadata=good))
    assert not f.matches(Rec(tags=["meeting"], metadata={**good, "source": "slack"}))
    assert not f.matches(Rec(tags=["meeting"], metadata=good, created_at=datetime(2024, 4, 1, tzinfo=UTC)))
    assert f.fields == {
        "tags",
        "created_at",
        "metadata.source",
        "metadata.priority",
        "metadata.duration_minutes",
    }


def test_parse_passthrough_and_init() -> None:
    f = parse({"tags": ["a"]})
    assert Filter.parse(None) is None
    assert Filter.parse(f) is f
    assert Filter({"tags": ["a"]}) == f
    assert Filter.parse({"and": [f, {"user_id": "u"}]}) == parse({"and": [{"tags": ["a"]}, {"user_id": "u"}]})


def test_memory_model_is_a_filter_target() -> None:
    memory = Memory(
        id="m1",
        text="hello",
        tags=["meeting"],
        metadata={"source": "zoom", "n": {"depth": 2}},
        user_id="alice",
        agent_id="bot",
        created_at=JAN1,
        updated_at=JAN1 + timedelta(days=1),
    )
    spec = {
        "tags": ["meeting"],
        "metadata.source": "zoom",
        "metadata.n.depth": {"gte": 2},
        "user_id": "alice",
        "agent_id": {"exists": True},
        "run_id": {"exists": False},
        "created_at": "2024-01-01",
        "updated_at": {"gt": "2024-01-01T12:00:00Z"},
    }
    assert matches(spec, memory)


# --------------------------------------------------------------------------- metadata operators


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("zoom", "zoom", True),
        ("zoom", "Zoom", False),
        ({"eq": "zoom"}, "zoom", True),
        (1, 1, True),
        (1, 1.0, True),
        (1.0, 1, True),
        (1, True, False),
        (True, 1, False),
        (True, True, True),
        (False, 0, False),
        (False, False, True),
        (1, "1", False),
        ("1", 1, False),
        ("a", ["a"], False),
        (1, [1], False),
        ("a", {"a": 1}, False),
    ],
)
def test_eq(spec: Any, value: Any, expected: bool) -> None:
    operand = spec["eq"] if isinstance(spec, dict) else spec
    assert matches({"metadata.k": spec}, meta(k=value)) is expected
    assert matches({"metadata.k": {"eq": operand}}, meta(k=value)) is expected
    assert matches({"metadata.k": {"ne": operand}}, meta(k=value)) is not expected


def test_eq_ne_on_missing_and_null() -> None:
    for record in (meta(), meta(k=None), meta(other=1)):
        assert not matches({"metadata.k": "x"}, record)
        assert matches({"metadata.k": {"ne": "x"}}, record)
        assert not matches({"metadata.k": {"eq": 0}}, record)
        assert matches({"metadata.k": {"ne": False}}, record)


def test_in_nin() -> None:
    spec_in = {"metadata.k": {"in": ["high", 2, True]}}
    spec_nin = {"metadata.k": {"nin": ["high", 2, True]}}
    cases = [("high", True), ("low", False), (2, True), (2.0, True), (True, True), (1, False), (False, False)]
    cases += [(None, False), ([2], False), ({"a": 1}, False)]
    for value, expected in cases:
        assert matches(spec_in, meta(k=value)) is expected, value
        assert matches(spec_nin, meta(k=value)) is not expected, value
    assert not matches({"metadata.k": {"in": []}}, meta(k=1))
    assert matches({"metadata.k": {"nin": []}}, meta(k=1))
    assert matches({"metadata.k": {"nin": ["x"]}}, meta())
    assert not matches({"metadata.k": {"in": [1]}}, meta(k=True))
    assert not matches({"metadata.k": {"in": [True]}}, meta(k=1))
    assert matches({"metadata.k": {"in": ("a", "b")}}, meta(k="b"))


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        ("gt", 30, 45, True),
        ("gt", 30, 30, False),
        ("gte", 30, 30, True),
        ("gte", 30, 30.0, True),
        ("lt", 30, 29.5, True),
        ("lt", 30, 30, False),
        ("lte", 30, 30, True),
        ("lte", 1.5, 2, False),
        ("gt", 0, True, False),  # bool is not a number
        ("lt", 2, False, False),
        ("gt", 30, "45", False),  # type mismatch is just False
        ("gt", "30", 45, False),
        ("gt", "b", "c", True),
        ("gt", "b", "B", False),  # code-point order
        ("lte", "2024-05-01", "2024-04-30", True),
        ("gte", "abc", "abc", True),
        ("gt", 1, [5], False),
        ("gt", 1, {"a": 5}, False),
        ("gt", 1, None, False),
    ],
)
def test_ordering(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert matches({"metadata.k": {op: operand}}, meta(k=value)) is expected


def test_ordering_on_missing_is_false() -> None:
    for op in ("gt", "gte", "lt", "lte"):
        assert not matches({"metadata.k": {op: 0}}, meta())
        assert not matches({"metadata.k": {op: ""}}, meta())


def test_range_siblings_are_anded() -> None:
    f = parse({"metadata.n": {"gte": 10, "lt": 20}})
    assert [f.matches(meta(n=n)) for n in (9, 10, 19, 19.99, 20)] == [False, True, True, True, False]


@pytest.mark.parametrize(
    ("operand", "value", "expected"),
    [
        ("oo", "zoom", True),
        ("", "zoom", True),
        ("x", "zoom", False),
        ("Zoom", "zoom", False),
        ("a", ["a", "b"], True),
        ("a", ["ab"], False),
        (1, [1, 2], True),
        (1, [1.0], True),
        (1, [True], False),
        (True, [1], False),
        (True, [True], True),
        (False, [0, False], True),
        (1, "1", False),  # a string value needs a string operand
        ("1", 1, False),
        ("a", {"a": 1}, False),  # neither a string nor a list
        ("a", None, False),
    ],
)
def test_contains(operand: Any, value: Any, expected: bool) -> None:
    assert matches({"metadata.k": {"contains": operand}}, meta(k=value)) is expected


def test_contains_missing() -> None:
    assert not matches({"metadata.k": {"contains": "a"}}, meta())


def test_exists() -> None:
    assert matches({"metadata.k": {"exists": True}}, meta(k=0))
    assert matches({"metadata.k": {"exists": True}}, meta(k=False))
    assert matches({"metadata.k": {"exists": True}}, meta(k=""))
    assert matches({"metadata.k": {"exists": True}}, meta(k=[]))
    assert not matches({"metadata.k": {"exists": True}}, meta())
    assert not matches({"metadata.k": {"exists": True}}, meta(k=None))
    assert matches({"metadata.k": {"exists": False}}, meta())
    assert matches({"metadata.k": {"exists": False}}, meta(k=None))
    assert not matches({"metadata.k": {"exists": False}}, meta(k=0))


def test_nested_metadata_path() -> None:
    record = meta(a={"b": {"c": 3}, "s": "x"}, lst=[{"b": 1}], s="str")
    assert matches({"metadata.a.b.c": 3}, record)
    assert matches({"metadata.a.s": {"contains": "x"}}, record)
    assert matches({"metadata.a.b": {"exists": True}}, record)
    assert not matches({"metadata.a.b": {"eq": 3}}, record)
    for path in ("metadata.a.zz", "metadata.a.b.c.d", "metadata.lst.b", "metadata.s.x", "metadata.nope.x"):
        assert not matches({path: {"exists": True}}, record), path
        assert matches({path: {"exists": False}}, record), path
        assert matches({path: {"ne": 1}}, record), path


# --------------------------------------------------------------------------- scope fields


def test_scope_fields() -> None:
    record = Rec(user_id="alice", agent_id="bot-1", run_id=None)
    assert matches({"user_id": "alice"}, record)
    assert not matches({"user_id": "bob"}, record)
    assert matches({"user_id": {"ne": "bob"}}, record)
    assert matches({"user_id": {"in": ["bob", "alice"]}}, record)
    assert matches({"user_id": {"nin": ["bob"]}}, record)
    assert matches({"user_id": {"gt": "al", "lt": "b"}}, record)
    assert matches({"user_id": {"gte": "alice", "lte": "alice"}}, record)
    assert matches({"agent_id": {"contains": "bot"}}, record)
    assert not matches({"agent_id": {"contains": "x"}}, record)
    assert matches({"agent_id": {"exists": True}}, record)
    # None counts as missing
    assert matches({"run_id": {"exists": False}}, record)
    assert not matches({"run_id": {"exists": True}}, record)
    assert not matches({"run_id": "r1"}, record)
    assert matches({"run_id": {"ne": "r1"}}, record)
    assert matches({"run_id": {"nin": ["r1"]}}, record)
    assert not matches({"run_id": {"in": ["r1"]}}, record)
    assert not matches({"run_id": {"gt": ""}}, record)
    assert not matches({"run_id": {"contains": ""}}, record)


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "operand",
    [
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00+00:00",
        "2024-01-01T01:00:00+01:00",
        "2023-12-31T19:00:00-05:00",
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        date(2024, 1, 1),
    ],
)
def test_date_operands_normalise_to_utc(operand: Any) -> None:
    f = parse({"created_at": {"eq": operand}})
    assert f.to_dict() == {"created_at": {"eq": "2024-01-01T00:00:00+00:00"}}
    assert f.matches(Rec(created_at=JAN1))
    assert f.matches(Rec(created_at=JAN1.astimezone(timezone(timedelta(hours=-3)))))
    assert not f.matches(Rec(created_at=JAN1 + timedelta(microseconds=1)))


def test_date_operators() -> None:
    record = Rec(created_at=datetime(2024, 2, 1, 12, tzinfo=UTC), updated_at=datetime(2024, 3, 1, tzinfo=UTC))
    assert matches({"created_at": {"gte": "2024-02-01", "lt": "2024-02-02"}}, record)
    assert matches({"created_at": {"gt": "2024-02-01T11:59:59"}}, record)
    assert not matches({"created_at": {"gt": "2024-02-01T12:00:00"}}, record)
    assert matches({"created_at": {"lte": "2024-02-01T12:00:00"}}, record)
    assert not matches({"created_at": {"lt": "2024-02-01T12:00:00"}}, record)
    assert matches({"created_at": {"ne": "2024-02-01"}}, record)
    assert matches({"updated_at": {"in": ["2024-01-01", "2024-03-01"]}}, record)
    assert not matches({"updated_at": {"nin": ["2024-01-01", "2024-03-01T00:00:00Z"]}}, record)
    assert matches({"updated_at": {"exists": True}}, record)
    assert not matches({"updated_at": {"exists": False}}, record)
    assert matches({"updated_at": "2024-03-01"}, record)


def test_naive_record_dates_are_utc() -> None:
    record = Rec(created_at=datetime(2024, 1, 1))
    assert matches({"created_at": "2024-01-01"}, record)
    assert matches({"created_at": {"lt": "2024-01-01T00:00:01Z"}}, record)
    assert matches({"created_at": {"in": ["2024-01-01"]}}, record)


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize("container", [list, tuple, frozenset, set])
def test_tags(container: Any) -> None:
    record = Rec(tags=container(["meeting", "q4"]))
    assert matches({"tags": {"any": ["q4", "q1"]}}, record)
    assert matches({"tags": ["q1", "meeting"]}, record)  # a bare list means any
    assert not matches({"tags": {"any": ["q1"]}}, record)
    assert matches({"tags": {"all": ["meeting", "q4"]}}, record)
    assert not matches({"tags": {"all": ["meeting", "q1"]}}, record)
    assert matches({"tags": {"none": ["draft"]}}, record)
    assert not matches({"tags": {"none": ["draft", "q4"]}}, record)
    assert not matches({"tags": ["Meeting"]}, record)  # case-sensitive
    assert matches({"tags": {"any": ["meeting"], "none": ["draft"]}}, record)
    assert not matches({"tags": {"any": ["meeting"], "all": ["q1"]}}, record)


def test_tags_empty_lists() -> None:
    for record in (Rec(tags=[]), Rec(tags=["a"])):
        assert not matches({"tags": {"any": []}}, record)
        assert not matches({"tags": []}, record)
        assert matches({"tags": {"all": []}}, record)
        assert matches({"tags": {"none": []}}, record)
    assert not matches({"tags": {"any": ["a"]}}, Rec(tags=[]))
    assert matches({"tags": {"none": ["a"]}}, Rec(tags=[]))


# --------------------------------------------------------------------------- combinators


def test_combinators() -> None:
    record = Rec(tags=["a"], metadata={"n": 5})
    assert matches({"and": []}, record)
    assert not matches({"or": []}, record)
    assert not matches({"not": {}}, record)
    assert matches({"not": {"or": []}}, record)
    assert matches({"and": [{"tags": ["a"]}, {"metadata.n": 5}]}, record)
    assert not matches({"and": [{"tags": ["a"]}, {"metadata.n": 6}]}, record)
    assert matches({"or": [{"tags": ["b"]}, {"metadata.n": 5}]}, record)
    assert not matches({"or": [{"tags": ["b"]}, {"metadata.n": 6}]}, record)
    assert not matches({"not": {"tags": ["a"]}}, record)
    assert matches({"not": {"not": {"tags": ["a"]}}}, record)
    # sibling keys are AND-ed, including combinators
    assert not matches({"tags": ["a"], "or": [{"metadata.n": 6}]}, record)
    assert matches({"tags": ["a"], "or": [{"metadata.n": 5}], "not": {"user_id": "bob"}}, record)
    assert matches({"or": [{"and": [{"tags": ["a"]}, {"tags": ["b"]}]}, {"and": [{"metadata.n": 5}]}]}, record)
    assert not matches({"and": [{}, {"or": []}]}, record)
    many = [{"metadata.n": i} for i in range(10)]
    assert matches({"or": many}, record)
    assert not matches({"and": many}, record)
    assert matches({"and": [{"metadata.n": {"gte": 0}} for _ in range(5)]}, record)


# --------------------------------------------------------------------------- errors


ERRORS: list[tuple[Any, str, str]] = [
    (
        {"or": [{}, {"metadata.priority": {"foo": 1}}]},
        "filter.or[1].metadata.priority",
        "filter.or[1].metadata.priority: unknown operator 'foo' "
        "(expected one of eq, ne, in, nin, gt, gte, lt, lte, contains, exists)",
    ),
    (
        {"bogus": 1},
        "filter.bogus",
        "filter.bogus: unknown field 'bogus' (expected one of metadata.<key>, user_id, agent_id, run_id, "
        "created_at, updated_at, tags, and, or, not)",
    ),
    ({"metadata": {"a": 1}}, "filter.metadata", "filter.metadata: unknown field 'metadata' (name a key: "),
    ({"metadata.": 1}, "filter.metadata.", "filter.metadata.: invalid metadata path 'metadata.'"),
    ({"metadata.a..b": 1}, "filter.metadata.a..b", "filter.metadata.a..b: invalid metadata path"),
    ({"Tags": ["a"]}, "filter.Tags", "filter.Tags: unknown field 'Tags'"),
    ({1: 2}, "filter", "filter: keys must be strings, got int"),
    (
        {"metadata.p": {"in": "high"}},
        "filter.metadata.p.in",
        "filter.metadata.p.in: expected a list of values, got str",
    ),
    (
        {"metadata.p": {"nin": {"a": 1}}},
        "filter.metadata.p.nin",
        "filter.metadata.p.nin: expected a list of values, got dict",
    ),
    (
        {"metadata.p": {"in": ["a", None]}},
        "filter.metadata.p.in[1]",
        "filter.metadata.p.in[1]: null is not a comparable value",
    ),
    (
        {"metadata.p": {"in": ["a", [1]]}},
        "filter.metadata.p.in[1]",
        "filter.metadata.p.in[1]: expected a string, number or boolean, got list",
    ),
    (
        {"metadata.p": {"exists": 1}},
        "filter.metadata.p.exists",
        "filter.metadata.p.exists: expected true or false, got int",
    ),
    (
        {"metadata.p": {"exists": "true"}},
        "filter.metadata.p.exists",
        "filter.metadata.p.exists: expected true or false, got str",
    ),
    (
        {"metadata.p": {"gt": [1]}},
        "filter.metadata.p.gt",
        "filter.metadata.p.gt: expected a number or a string, got list",
    ),
    (
        {"metadata.p": {"gte": {"a": 1}}},
        "filter.metadata.p.gte",
        "filter.metadata.p.gte: expected a number or a string, got dict",
    ),
    (
        {"metadata.p": {"lt": None}},
        "filter.metadata.p.lt",
        "filter.metadata.p.lt: null is not a comparable value (use {'exists': false} for missing or null)",
    ),
    (
        {"metadata.p": {"lte": True}},
        "filter.metadata.p.lte",
        "filter.metadata.p.lte: expected a number or a string, got bool",
    ),
    (
        {"metadata.p": {"eq": [1]}},
        "filter.metadata.p.eq",
        "filter.metadata.p.eq: expected a string, number or boolean, got list",
    ),
    (
        {"metadata.p": {"contains": None}},
        "filter.metadata.p.contains",
        "filter.metadata.p.contains: null is not a comparable value",
    ),
    (
        {"metadata.p": {"eq": datetime(2024, 1, 1)}},
        "filter.metadata.p.eq",
        "filter.metadata.p.eq: expected a string, number or boolean, got datetime",
    ),
    (
        {"metadata.p": float("nan")},
        "filter.metadata.p",
        "filter.metadata.p: expected a finite number, got nan",
    ),
    (
        {"metadata.p": {"gt": float("inf")}},
        "filter.metadata.p.gt",
        "filter.metadata.p.gt: expected a finite number, got inf",
    ),
    ({"metadata.p": None}, "filter.metadata.p", "filter.metadata.p: null is not a comparable value"),
    (
        {"metadata.p": [1, 2]},
        "filter.metadata.p",
        "filter.metadata.p: a bare list is not a value; use {'in': [...]}",
    ),
    (
        {"metadata.p": {}},
        "filter.metadata.p",
        "filter.metadata.p: empty operator object (expected one of eq, ne,",
    ),
    ({"metadata.p": {"any": ["a"]}}, "filter.metadata.p", "filter.metadata.p: unknown operator 'any'"),
    ({"metadata.p": {1: 2}}, "filter.metadata.p", "filter.metadata.p: unknown operator 1"),
    ({"user_id": 5}, "filter.user_id", "filter.user_id: expected a string, got int"),
    ({"agent_id": None}, "filter.agent_id", "filter.agent_id: null is not a comparable value"),
    ({"run_id": {"in": ["r", 1]}}, "filter.run_id.in[1]", "filter.run_id.in[1]: expected a string, got int"),
    ({"user_id": {"gt": 1}}, "filter.user_id.gt", "filter.user_id.gt: expected a string, got int"),
    (
        {"tags": "meeting"},
        "filter.tags",
        "filter.tags: expected a list of tags or an operator object, got str",
    ),
    ({"tags": {"any": "meeting"}}, "filter.tags.any", "filter.tags.any: expected a list of strings, got str"),
    ({"tags": {"all": ["a", 2]}}, "filter.tags.all[1]", "filter.tags.all[1]: expected a string, got int"),
    ({"tags": {"none": None}}, "filter.tags.none", "filter.tags.none: expected a list of strings, got null"),
    ({"tags": ["a", None]}, "filter.tags[1]", "filter.tags[1]: expected a string, got null"),
    (
        {"tags": {"eq": "a"}},
        "filter.tags",
        "filter.tags: unknown operator 'eq' (expected one of any, all, none)",
    ),
    (
        {"tags": {"exists": True}},
        "filter.tags",
        "filter.tags: unknown operator 'exists' (expected one of any, all, none)",
    ),
    (
        {"created_at": {"gte": "2024-13-01"}},
        "filter.created_at.gte",
        "filter.created_at.gte: invalid ISO-8601 date or datetime '2024-13-01'",
    ),
    (
        {"created_at": "yesterday"},
        "filter.created_at",
        "filter.created_at: invalid ISO-8601 date or datetime 'yesterday'",
    ),
    (
        {"created_at": {"gt": 5}},
        "filter.created_at.gt",
        "filter.created_at.gt: expected an ISO-8601 date/datetime string or a datetime, got int",
    ),
    (
        {"updated_at": {"lt": None}},
        "filter.updated_at.lt",
        "filter.updated_at.lt: expected an ISO-8601 date/datetime string or a datetime, got null",
    ),
    (
        {"created_at": {"in": ["2024-01-01", "x"]}},
        "filter.created_at.in[1]",
        "filter.created_at.in[1]: invalid ISO-8601",
    ),
    (
        {"created_at": {"in": "2024-01-01"}},
        "filter.created_at.in",
        "filter.created_at.in: expected a list of values, got str",
    ),
    (
        {"updated_at": {"contains": "2024"}},
        "filter.updated_at",
        "filter.updated_at: unknown operator 'contains' (expected one of eq, ne, in, nin, gt, gte, lt, lte, exists)",
    ),
    (
        {"created_at": {"exists": None}},
        "filter.created_at.exists",
        "filter.created_at.exists: expected true or false, got null",
    ),
    ({"not": [{"tags": ["a"]}]}, "filter.not", "filter.not: expected a filter object (dict), got list"),
    ({"not": None}, "filter.not", "filter.not: expected a filter object (dict), got null"),
    ({"and": {}}, "filter.and", "filter.and: expected a list of filter objects, got dict"),
    ({"or": "x"}, "filter.or", "filter.or: expected a list of filter objects, got str"),
    ({"and": [{}, "x"]}, "filter.and[1]", "filter.and[1]: expected a filter object (dict), got str"),
    ({"or": [{"and": [{}, {"x": 1}]}]}, "filter.or[0].and[1].x", "filter.or[0].and[1].x: unknown field 'x'"),
    (
        {"not": {"not": {"metadata.a": {"gt": None}}}},
        "filter.not.not.metadata.a.gt",
        "filter.not.not.metadata.a.gt: null",
    ),
    ([{"tags": ["a"]}], "filter", "filter: expected a filter object (dict), got list"),
    ("tags", "filter", "filter: expected a filter object (dict), got str"),
    (42, "filter", "filter: expected a filter object (dict), got int"),
]


@pytest.mark.parametrize(("spec", "path", "message"), ERRORS)
def test_errors_name_the_path(spec: Any, path: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Filter.parse(spec)
    error = info.value
    assert error.field == path
    assert error.details["field"] == path
    assert error.message.startswith(message), error.message
    assert str(error) == error.message
    assert error.to_dict()["code"] == "validation_error"


def test_error_path_prefix_is_configurable() -> None:
    with pytest.raises(ValidationError) as info:
        Filter.parse({"or": [{"x": 1}]}, path="where")
    assert info.value.field == "where.or[0].x"
    assert info.value.message.startswith("where.or[0].x: unknown field 'x'")


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^filter\.x: unknown field"):
        Filter.parse({"x": 1})


# --------------------------------------------------------------------------- limits


def nested_nots(count: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"tags": ["a"]}
    for _ in range(count):
        spec = {"not": spec}
    return spec


def test_depth_limit() -> None:
    assert MAX_DEPTH == 16
    ok = parse(nested_nots(MAX_DEPTH - 1))  # the top level is depth 1
    assert ok.matches(Rec(tags=["a"])) is ((MAX_DEPTH - 1) % 2 == 0)
    with pytest.raises(LimitExceededError) as info:
        Filter.parse(nested_nots(MAX_DEPTH))
    error = info.value
    assert error.limit == "max_filter_depth"
    assert error.maximum == MAX_DEPTH
    assert error.field == "filter" + ".not" * MAX_DEPTH
    assert "the limit max_filter_depth is 16" in error.message
    assert isinstance(error, ValidationError)


def test_depth_limit_stops_deep_input_without_recursion_error() -> None:
    spec: Any = {}
    for _ in range(5000):
        spec = {"and": [spec]}
    with pytest.raises(LimitExceededError, match="max_filter_depth"):
        Filter.parse(spec)


def test_node_limit() -> None:
    assert MAX_NODES == 256
    # 1 root + 1 "or" + 2 per item (the object and its operator)
    parse({"or": [{"metadata.a": i} for i in range(127)]})
    with pytest.raises(LimitExceededError) as info:
        Filter.parse({"or": [{"metadata.a": i} for i in range(200)]})
    error = info.value
    assert error.limit == "max_filter_nodes"
    assert error.maximum == MAX_NODES
    assert error.field == "filter.or[127]"
    assert "the limit max_filter_nodes is 256" in error.message
    with pytest.raises(LimitExceededError, match="max_filter_nodes"):
        Filter.parse({"and": [{}] * 10_000})
    with pytest.raises(LimitExceededError, match="max_filter_nodes"):
        Filter.parse({"metadata.a": {"gt": 1}, "and": [{f"metadata.k{i}": {"gt": 1, "lt": 9}} for i in range(90)]})


def test_values_limit() -> None:
    assert MAX_VALUES == 1024
    assert matches({"metadata.a": {"in": list(range(MAX_VALUES))}}, meta(a=1023))
    with pytest.raises(LimitExceededError) as info:
        Filter.parse({"metadata.a": {"in": list(range(MAX_VALUES + 1))}})
    assert info.value.limit == "max_filter_values"
    assert info.value.actual == MAX_VALUES + 1
    assert info.value.field == "filter.metadata.a.in"
    with pytest.raises(LimitExceededError, match=r"^filter\.tags\.any: 2000 values given"):
        Filter.parse({"tags": {"any": ["t"] * 2000}})


# --------------------------------------------------------------------------- shortcuts


def test_from_shortcuts() -> None:
    assert Filter.from_shortcuts() is None
    assert Filter.from_shortcuts(tags=None, date_range=None, metadata=None) is None
    assert Filter.from_shortcuts(tags=[], date_range=(None, None), metadata={}) is None

    tags = Filter.from_shortcuts(tags=["a", "b"])
    assert tags == parse({"tags": {"any": ["a", "b"]}})
    assert tags is not None
    assert tags.to_dict() == {"tags": {"any": ["a", "b"]}}
    assert Filter.from_shortcuts(tags=("b", "a")) == parse({"tags": {"any": ["b", "a"]}})
    assert Filter.from_shortcuts(tags={"b", "a"}) == parse({"tags": {"any": ["a", "b"]}})  # type: ignore[arg-type]

    dates = Filter.from_shortcuts(date_range=("2024-01-01", datetime(2024, 4, 1)))
    assert dates == parse({"created_at": {"gte": "2024-01-01", "lt": "2024-04-01"}})
    assert Filter.from_shortcuts(date_range=(None, "2024-04-01")) == parse({"created_at": {"lt": "2024-04-01"}})
    assert Filter.from_shortcuts(date_range=(JAN1, None)) == parse({"created_at": {"gte": "2024-01-01"}})

    metadata = Filter.from_shortcuts(metadata={"source": "zoom", "n": 3, "flag": True})
    assert metadata == parse({"metadata.source": "zoom", "metadata.n": 3, "metadata.flag": True})

    everything = Filter.from_shortcuts(tags=["a"], date_range=("2024-01-01", "2024-02-01"), metadata={"s": "x"})
    assert everything is not None
    assert everything.fields == {"tags", "created_at", "metadata.s"}
    record = Rec(tags=["a"], metadata={"s": "x"}, created_at=datetime(2024, 1, 15, tzinfo=UTC))
    assert everything.matches(record)
    assert not everything.matches(Rec(tags=["a"], metadata={"s": "x"}, created_at=datetime(2024, 2, 1, tzinfo=UTC)))
    assert not everything.matches(Rec(tags=["b"], metadata={"s": "x"}, created_at=record.created_at))
    assert Filter.parse(everything.to_dict()) == everything


@pytest.mark.parametrize(
    ("kwargs", "path", "message"),
    [
        ({"tags": "meeting"}, "tags", "tags: expected a list of strings, got str"),
        ({"tags": ["a", 1]}, "tags[1]", "tags[1]: expected a string, got int"),
        ({"date_range": ("2024-01-01",)}, "date_range", "date_range: expected a (start, end) pair"),
        ({"date_range": "2024"}, "date_range", "date_range: expected a (start, end) pair"),
        (
            {"date_range": ("nope", None)},
            "date_range[0]",
            "date_range[0]: invalid ISO-8601 date or datetime 'nope'",
        ),
        ({"date_range": (None, 5)}, "date_range[1]", "date_range[1]: expected an ISO-8601"),
        ({"metadata": ["a"]}, "metadata", "metadata: expected an object (dict), got list"),
        ({"metadata": {"": 1}}, "metadata", "metadata: keys must be non-empty strings"),
        ({"metadata": {"k": None}}, "metadata.k", "metadata.k: null is not a comparable value"),
        (
            {"metadata": {"k": [1]}},
            "metadata.k",
            "metadata.k: expected a string, number or boolean, got list",
        ),
        ({"metadata": {"k.": 1}}, "metadata.k.", "metadata.k.: invalid metadata path"),
    ],
)
def test_from_shortcuts_errors(kwargs: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Filter.from_shortcuts(**kwargs)
    assert info.value.field == path
    assert info.value.message.startswith(message), info.value.message


def test_all_of() -> None:
    a = parse({"tags": ["a"]})
    b = parse({"metadata.n": {"gt": 1}})
    assert Filter.all_of() is None
    assert Filter.all_of(None, None) is None
    assert Filter.all_of(a) is a
    assert Filter.all_of(None, a, None) is a
    both = Filter.all_of(a, b)
    assert both == parse({"tags": {"any": ["a"]}, "metadata.n": {"gt": 1}})
    assert Filter.all_of(a, {"metadata.n": {"gt": 1}}) == both
    # colliding keys and existing "and" lists go into one "and" list
    c = parse({"tags": ["b"], "and": [{"user_id": "u"}]})
    combined = Filter.all_of(a, c)
    assert combined == parse({"tags": {"any": ["a"]}, "and": [{"tags": {"any": ["b"]}}, {"user_id": "u"}]})
    assert combined is not None
    assert combined.matches(Rec(user_id="u", tags=["a", "b"]))
    assert not combined.matches(Rec(user_id="u", tags=["a"]))
    assert not combined.matches(Rec(user_id="v", tags=["a", "b"]))
    assert Filter.parse(combined.to_dict()) == combined
    # all_of never mutates its inputs
    assert c.to_dict() == {"tags": {"any": ["b"]}, "and": [{"user_id": {"eq": "u"}}]}


# --------------------------------------------------------------------------- normal form, equality, misc


def test_to_dict_normalises() -> None:
    f = parse(
        {
            "metadata.source": "zoom",
            "tags": ("a", "b"),
            "user_id": {"in": ("x", "y")},
            "created_at": {"gte": datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
            "or": ({"not": {"metadata.n": 1.5}},),
        }
    )
    expected = {
        "metadata.source": {"eq": "zoom"},
        "tags": {"any": ["a", "b"]},
        "user_id": {"in": ["x", "y"]},
        "created_at": {"gte": "2024-01-01T00:00:00+00:00"},
        "or": [{"not": {"metadata.n": {"eq": 1.5}}}],
    }
    assert f.to_dict() == expected
    assert json.loads(json.dumps(f.to_dict())) == expected
    assert Filter.parse(f.to_dict()) == f
    # to_dict returns a copy
    copy = f.to_dict()
    copy["tags"]["any"].append("zzz")
    assert f.to_dict() == expected


def test_equality_and_hash() -> None:
    a = parse({"metadata.s": "x", "tags": ["a"]})
    b = parse({"tags": {"any": ["a"]}, "metadata.s": {"eq": "x"}})
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert parse({"metadata.s": {"eq": True}}) != parse({"metadata.s": {"eq": 1}})
    assert parse({"tags": ["a", "b"]}) != parse({"tags": ["b", "a"]})  # structural
    assert a != {"metadata.s": "x", "tags": ["a"]}
    assert parse({"created_at": "2024-01-01"}) == parse({"created_at": JAN1})


def test_repr_and_fields() -> None:
    f = parse({"metadata.a.b": 1, "not": {"or": [{"tags": ["x"]}, {"run_id": {"exists": True}}]}})
    assert repr(f) == (
        "Filter({'metadata.a.b': {'eq': 1}, 'not': {'or': [{'tags': {'any': ['x']}}, {'run_id': {'exists': True}}]}})"
    )
    assert f.fields == frozenset({"metadata.a.b", "tags", "run_id"})


def test_pickle_and_compile_filter() -> None:
    f = parse({"metadata.n": {"gt": 1}, "tags": ["a"]})
    clone = pickle.loads(pickle.dumps(f))
    assert clone == f
    assert clone.matches(Rec(tags=["a"], metadata={"n": 2}))
    predicate = compile_filter({"metadata.n": {"gt": 1}})
    assert predicate(meta(n=2))
    assert not predicate(meta(n=1))
    assert compile_filter(None)(Rec())
    assert compile_filter(f) == f.matches
    with pytest.raises(ValidationError):
        compile_filter({"bad": 1})


# --------------------------------------------------------------------------- pydantic


class Query(pydantic.BaseModel):
    text: str = ""
    filter: Filter | None = None


def test_pydantic_field() -> None:
    query = Query.model_validate({"filter": {"tags": ["a"], "created_at": {"gte": "2024-01-01"}}})
    assert isinstance(query.filter, Filter)
    assert query.filter == parse({"tags": ["a"], "created_at": {"gte": "2024-01-01"}})
    dumped = query.model_dump()
    assert dumped["filter"] == {"tags": {"any": ["a"]}, "created_at": {"gte": "2024-01-01T00:00:00+00:00"}}
    assert Query.model_validate_json(query.model_dump_json()) == query
    assert Query().filter is None
    assert Query.model_validate({"filter": None}).filter is None
    existing = parse({"user_id": "u"})
    assert Query(filter=existing).filter is existing


def test_pydantic_error_carries_our_message() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Query.model_validate({"filter": {"or": [{"metadata.p": {"foo": 1}}]}})
    (error,) = info.value.errors()
    assert error["type"] == "filter_invalid"
    assert error["loc"] == ("filter",)
    assert error["msg"].startswith("filter.or[0].metadata.p: unknown operator 'foo'")
    assert error["ctx"]["field"] == "filter.or[0].metadata.p"
    with pytest.raises(pydantic.ValidationError, match="expected a filter object"):
        Query.model_validate({"filter": "tags"})


def test_pydantic_json_schema_is_an_object() -> None:
    schema = Query.model_json_schema()
    options = schema["properties"]["filter"]["anyOf"]
    assert {"type": "null"} in options
    assert any(option.get("type") == "object" for option in options)
    serialization = Query.model_json_schema(mode="serialization")
    assert any(option.get("type") == "object" for option in serialization["properties"]["filter"]["anyOf"])


# --------------------------------------------------------------------------- speed


def test_evaluation_is_fast() -> None:
    records = [
        Rec(
            tags=frozenset({"a", "b"} if i % 3 else {"c"}),
            metadata={"source": "zoom" if i % 2 else "x", "n": i},
        )
        for i in range(100_000)
    ]
    for spec in ({"metadata.source": "zoom"}, {"tags": ["a"]}, {"metadata.n": {"gte": 500}}):
        matcher = parse(spec).matches
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            count = sum(1 for record in records if matcher(record))
            best = min(best, time.perf_counter() - start)
        assert count > 0
        assert best < 0.25, (spec, best)  # typically 10-30 ms


# --------------------------------------------------------------------------- docs


def test_docs_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 3
    for number, block in enumerate(blocks):
        code = compile(block, f"{DOCS.name}[python block {number}]", "exec", dont_inherit=True)
        exec(code, {"__name__": "__main__"})


# --------------------------------------------------------------------------- hypothesis: reference model

META_FIELDS = ["metadata.a", "metadata.b", "metadata.n.x"]
SCOPE = ["user_id", "agent_id", "run_id"]
DATES = ["created_at", "updated_at"]
# Small domains, so that operands and record values collide often (1 vs 1.0 vs True, "x" vs "xy" ...).
SCALARS = st.sampled_from([True, False, 0, 1, -1, 0.0, 1.0, 0.5, "", "1", "x", "xy", "X"])
ORDERABLE = st.sampled_from([0, 1, -1, 1.0, 0.5, "", "1", "x", "xy", "X"])
STRINGS = st.sampled_from(["alice", "bob", "al", "a1", "a2", "r1", "", "b", "z"])
TAGS = st.sampled_from(["a", "b", "c", "A"])
INSTANTS = [
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2024, 1, 1, 12, tzinfo=UTC),
    datetime(2024, 2, 1, tzinfo=UTC),
    datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC),
]
DATE_OPERANDS = st.one_of(
    st.sampled_from(
        [
            "2024-01-01",
            "2024-02-01",
            "2024-01-01T12:00:00",
            "2024-01-01T13:00:00+01:00",
            "2024-01-01T00:00:00Z",
            "2023-12-31T23:59:59",
        ]
    ),
    st.sampled_from(INSTANTS),
    st.sampled_from([datetime(2024, 1, 1, 12), date(2024, 2, 1)]),
)


def ref_datetime(value: Any) -> datetime:
    """Deliberately independent date parsing: strptime, not fromisoformat."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = value.replace("Z", "+00:00")
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if len(text) == 19:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


def ref_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "datetime"
    return None


def ref_eq(value: Any, operand: Any) -> bool:
    kind = ref_kind(value)
    return kind is not None and kind == ref_kind(operand) and value == operand


def ref_order(value: Any, operand: Any, op: str) -> bool:
    kind = ref_kind(value)
    if kind is None or kind == "bool" or kind != ref_kind(operand):
        return False
    if op == "gt":
        return bool(value > operand)
    if op == "gte":
        return bool(value >= operand)
    if op == "lt":
        return bool(value < operand)
    return bool(value <= operand)


def ref_value(record: Rec, name: str) -> Any:
    if name.startswith("metadata."):
        value: Any = record.metadata
        for key in name.split(".")[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        return value
    value = getattr(record, name)
    if name in DATES:
        value = ref_datetime(value)
    return value


def ref_condition(record: Rec, name: str, spec: Any) -> bool:
    if name == "tags":
        ops = {"any": spec} if isinstance(spec, list) else spec
        have = set(record.tags)
        results = []
        for op, wanted in ops.items():
            hits = [tag in have for tag in wanted]
            results.append(any(hits) if op == "any" else all(hits) if op == "all" else not any(hits))
        return all(results)
    ops = spec if isinstance(spec, dict) else {"eq": spec}
    value = ref_value(record, name)
    for op, operand in ops.items():
        if name in DATES and op != "exists":
            operand = [ref_datetime(x) for x in operand] if op in ("in", "nin") else ref_datetime(operand)
        if op == "eq":
            ok = ref_eq(value, operand)
        elif op == "ne":
            ok = not ref_eq(value, operand)
        elif op == "in":
            ok = any(ref_eq(value, x) for x in operand)
        elif op == "nin":
            ok = not any(ref_eq(value, x) for x in operand)
        elif op == "exists":
            ok = (value is not None) == operand
        elif op == "contains":
            if isinstance(value, str):
                ok = isinstance(operand, str) and operand in value
            elif isinstance(value, list):
                ok = any(ref_eq(item, operand) for item in value)
            else:
                ok = False
        else:
            ok = ref_order(value, operand, op)
        if not ok:
            return False
    return True


def ref_match(spec: dict[str, Any], record: Rec) -> bool:
    """A plain walk over the spec dict, sharing no code with memorylink.filters."""
    for key, value in spec.items():
        if key == "and":
            ok = all(ref_match(item, record) for item in value)
        elif key == "or":
            ok = any(ref_match(item, record) for item in value)
        elif key == "not":
            ok = not ref_match(value, record)
        else:
            ok = ref_condition(record, key, value)
        if not ok:
            return False
    return True


def operand_for(name: str, op: str) -> st.SearchStrategy[Any]:
    if op == "exists":
        return st.booleans()
    if name in DATES:
        single: st.SearchStrategy[Any] = DATE_OPERANDS
    elif name in SCOPE:
        single = STRINGS
    elif op in ("gt", "gte", "lt", "lte"):
        single = ORDERABLE
    else:
        single = SCALARS
    if op in ("in", "nin"):
        return st.lists(single, max_size=4)
    return single


def condition_for(name: str) -> st.SearchStrategy[Any]:
    if name == "tags":
        tag_lists = st.lists(TAGS, max_size=3)
        ops = st.lists(st.tuples(st.sampled_from(["any", "all", "none"]), tag_lists), min_size=1, max_size=3)
        return st.one_of(tag_lists, ops.map(dict))
    operators = ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists"]
    if name not in DATES:
        operators.append("contains")
    pairs = st.sampled_from(operators).flatmap(lambda op: operand_for(name, op).map(lambda x: (op, x)))
    ops_dict = st.lists(pairs, min_size=1, max_size=3, unique_by=lambda kv: kv[0]).map(dict)
    return st.one_of(operand_for(name, "eq"), ops_dict)


LEAF = st.sampled_from([*META_FIELDS, *SCOPE, *DATES, "tags"]).flatmap(
    lambda name: condition_for(name).map(lambda cond: (name, cond))
)


def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    combinator = st.one_of(
        st.tuples(st.just("and"), st.lists(children, max_size=3)),
        st.tuples(st.just("or"), st.lists(children, max_size=3)),
        st.tuples(st.just("not"), children),
    )
    return st.lists(st.one_of(LEAF, combinator), max_size=4, unique_by=lambda kv: kv[0]).map(dict)


FILTERS = st.recursive(st.lists(LEAF, max_size=3, unique_by=lambda kv: kv[0]).map(dict), extend, max_leaves=10)

META_VALUES = st.one_of(SCALARS, SCALARS, st.none(), st.lists(SCALARS, max_size=3))
RECORDS = st.builds(
    Rec,
    user_id=st.sampled_from(["alice", "bob", "al"]),
    agent_id=st.sampled_from([None, "a1", "a2"]),
    run_id=st.sampled_from([None, "r1"]),
    tags=st.lists(TAGS, max_size=3),
    metadata=st.fixed_dictionaries(
        {"a": META_VALUES},
        optional={
            "b": META_VALUES,
            "n": st.one_of(META_VALUES, st.fixed_dictionaries({"x": META_VALUES}), st.just({})),
        },
    ),
    created_at=st.sampled_from(INSTANTS),
    updated_at=st.sampled_from([*INSTANTS, datetime(2024, 1, 1, 12)]),
)

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(spec=FILTERS, records=st.lists(RECORDS, min_size=1, max_size=12))
def test_property_matches_reference(spec: dict[str, Any], records: list[Rec]) -> None:
    # Check every sub-filter and every single condition too, so that no part hides behind another.
    for part in subfilters(spec):
        f = parse(part)
        for record in records:
            assert f.matches(record) == ref_match(part, record), (part, record)


def subfilters(spec: dict[str, Any]) -> list[dict[str, Any]]:
    parts = [spec]
    for key, value in spec.items():
        parts.append({key: value})
        if key in ("and", "or"):
            for item in value:
                parts.extend(subfilters(item))
        elif key == "not":
            parts.extend(subfilters(value))
        elif isinstance(value, dict):
            parts.extend({key: {op: operand}} for op, operand in value.items())
    return parts


@PROPERTY
@given(spec=FILTERS)
def test_property_round_trip(spec: dict[str, Any]) -> None:
    f = parse(spec)
    normal = f.to_dict()
    again = parse(normal)
    assert again == f
    assert hash(again) == hash(f)
    assert again.to_dict() == normal
    assert parse(json.loads(json.dumps(normal))) == f
    assert again.fields == f.fields


@PROPERTY
@given(spec=FILTERS, records=st.lists(RECORDS, min_size=1, max_size=8))
def test_property_not_negates(spec: dict[str, Any], records: list[Rec]) -> None:
    f = parse(spec)
    negated = parse({"not": spec})
    for record in records:
        assert negated.matches(record) is (not f.matches(record))


@PROPERTY
@given(a=FILTERS, b=FILTERS, records=st.lists(RECORDS, min_size=1, max_size=8))
def test_property_and_or_laws(a: dict[str, Any], b: dict[str, Any], records: list[Rec]) -> None:
    fa, fb = parse(a), parse(b)
    both = parse({"and": [a, b]})
    either = parse({"or": [a, b]})
    not_both = parse({"not": {"and": [a, b]}})
    not_either = parse({"not": {"or": [a, b]}})
    de_morgan_and = parse({"or": [{"not": a}, {"not": b}]})
    de_morgan_or = parse({"and": [{"not": a}, {"not": b}]})
    combined = Filter.all_of(fa, fb)
    assert combined is not None
    for record in records:
        x, y = fa.matches(record), fb.matches(record)
        assert both.matches(record) is (x and y)
        assert either.matches(record) is (x or y)
        assert not_both.matches(record) is de_morgan_and.matches(record)
        assert not_either.matches(record) is de_morgan_or.matches(record)
        assert combined.matches(record) is (x and y)
        assert parse({"and": [a]}).matches(record) is x
        assert parse({"or": [a]}).matches(record) is x


GARBAGE_KEYS = st.one_of(
    st.sampled_from(
        [
            "and", "or", "not", "tags", "user_id", "agent_id", "run_id", "created_at", "updated_at",
            "metadata", "metadata.a", "metadata.a.b", "metadata.", "metadata..a",
            "eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists", "any", "all", "none",
        ]
    ),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)  # fmt: skip
OFFSETS = [
    timedelta(hours=-23, minutes=-59),
    timedelta(0),
    timedelta(hours=5, minutes=30),
    timedelta(hours=23),
]
GARBAGE_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["2024-01-01", "2024-13-40", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"]),
    st.datetimes(timezones=st.one_of(st.none(), st.builds(timezone, st.sampled_from(OFFSETS)))),
    st.dates(),
    st.binary(max_size=4),
    st.builds(set, st.lists(st.integers(), max_size=2)),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=st.recursive(
        GARBAGE_LEAVES,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.tuples(children, children),
            st.dictionaries(GARBAGE_KEYS, children, max_size=4),
        ),
        max_leaves=25,
    ),
    record=RECORDS,
)
def test_property_garbage_parses_or_raises_validation_error(spec: Any, record: Rec) -> None:
    error: ValidationError | None = None
    try:
        f = Filter.parse(spec)
    except ValidationError as exc:
        error = exc
    if error is not None:
        assert error.field is not None
        assert error.message.startswith(f"{error.field}: ")
        return
    if f is None:
        assert spec is None
        return
    f.matches(record)  # evaluation never raises either
    assert parse(f.to_dict()) == f
