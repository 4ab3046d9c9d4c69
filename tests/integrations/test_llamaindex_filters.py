"""LlamaIndex MetadataFilters compile into memorylink's filter language with the same meaning."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.vector_stores import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from memorylink.errors import ValidationError
from memorylink.filters import Filter
from memorylink.integrations.llamaindex import SUPPORTED_OPERATORS, to_memorylink_filter


def record(metadata: dict[str, Any]) -> SimpleNamespace:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return SimpleNamespace(
        user_id="u", agent_id=None, run_id=None, tags=[], metadata=metadata, created_at=now, updated_at=now
    )


def test_each_operator_maps() -> None:
    def one(operator: FilterOperator, value: Any) -> dict[str, Any] | None:
        return to_memorylink_filter(MetadataFilters(filters=[MetadataFilter(key="k", value=value, operator=operator)]))

    assert one(FilterOperator.EQ, "a") == {"metadata.k": {"eq": "a"}}
    assert one(FilterOperator.NE, 1) == {"metadata.k": {"ne": 1}}
    assert one(FilterOperator.GT, 1.5) == {"metadata.k": {"gt": 1.5}}
    assert one(FilterOperator.GTE, 2) == {"metadata.k": {"gte": 2}}
    assert one(FilterOperator.LT, "m") == {"metadata.k": {"lt": "m"}}
    assert one(FilterOperator.LTE, 3) == {"metadata.k": {"lte": 3}}
    assert one(FilterOperator.IN, ["a", "b"]) == {"metadata.k": {"in": ["a", "b"]}}
    assert one(FilterOperator.NIN, [1, 2]) == {"metadata.k": {"nin": [1, 2]}}
    assert one(FilterOperator.CONTAINS, "x") == {"metadata.k": {"contains": "x"}}
    assert one(FilterOperator.TEXT_MATCH, "ab") == {"metadata.k": {"contains": "ab"}}
    assert one(FilterOperator.ANY, ["a", "b"]) == {
        "or": [{"metadata.k": {"contains": "a"}}, {"metadata.k": {"contains": "b"}}]
    }
    assert one(FilterOperator.ALL, ["a", "b"]) == {
        "and": [{"metadata.k": {"contains": "a"}}, {"metadata.k": {"contains": "b"}}]
    }
    assert one(FilterOperator.IS_EMPTY, None) == {"or": [{"metadata.k": {"exists": False}}, {"metadata.k": {"eq": ""}}]}
    assert to_memorylink_filter(None) is None
    assert to_memorylink_filter(MetadataFilters(filters=[], condition=FilterCondition.OR)) is None
    inner_empty = MetadataFilters(filters=[MetadataFilters(filters=[], condition=FilterCondition.OR)])
    assert to_memorylink_filter(inner_empty) == {}


def test_conditions_and_nesting() -> None:
    a = MetadataFilter(key="a", value=1)
    b = MetadataFilter(key="b", value=2)
    assert to_memorylink_filter(MetadataFilters(filters=[a, b])) == {
        "and": [{"metadata.a": {"eq": 1}}, {"metadata.b": {"eq": 2}}]
    }
    assert to_memorylink_filter(MetadataFilters(filters=[a, b], condition=FilterCondition.OR)) == {
        "or": [{"metadata.a": {"eq": 1}}, {"metadata.b": {"eq": 2}}]
    }
    assert to_memorylink_filter(MetadataFilters(filters=[a, b], condition=FilterCondition.NOT)) == {
        "not": {"or": [{"metadata.a": {"eq": 1}}, {"metadata.b": {"eq": 2}}]}
    }
    nested = MetadataFilters(filters=[a, MetadataFilters(filters=[a, b], condition=FilterCondition.OR)])
    compiled = to_memorylink_filter(nested)
    assert compiled == {
        "and": [{"metadata.a": {"eq": 1}}, {"or": [{"metadata.a": {"eq": 1}}, {"metadata.b": {"eq": 2}}]}]
    }
    Filter.parse(compiled)  # valid memorylink filters


def test_unsupported_operator_is_a_clear_error() -> None:
    assert FilterOperator.TEXT_MATCH_INSENSITIVE not in SUPPORTED_OPERATORS
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="a", value=1),
            MetadataFilter(key="t", value="x", operator=FilterOperator.TEXT_MATCH_INSENSITIVE),
        ]
    )
    with pytest.raises(ValidationError, match="TEXT_MATCH_INSENSITIVE") as caught:
        to_memorylink_filter(filters)
    assert caught.value.field == "filters.filters[1]"


@pytest.mark.parametrize(
    ("operator", "value", "message"),
    [
        (FilterOperator.EQ, None, "None value"),
        (FilterOperator.IN, "a", "needs a list"),
        (FilterOperator.EQ, ["a"], "needs a single value"),
        (FilterOperator.TEXT_MATCH, 3, "needs a string"),
    ],
)
def test_bad_values_are_clear_errors(operator: FilterOperator, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        to_memorylink_filter(MetadataFilters(filters=[MetadataFilter(key="k", value=value, operator=operator)]))


# -- the same meaning as LlamaIndex's own in-memory filter function -------------------------------

KEYS = ["a", "b"]
scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "xy", ""]))
metadata_values = st.one_of(scalars, st.lists(st.sampled_from(["x", "y"]), max_size=2))
# Operators whose meaning both sides share on these values; LlamaIndex's own function raises
# TypeError on mixed-type comparisons, which memorylink treats as false (documented): those
# cases are filtered out below.
COMPARABLE = [
    FilterOperator.EQ,
    FilterOperator.NE,
    FilterOperator.GT,
    FilterOperator.GTE,
    FilterOperator.LT,
    FilterOperator.LTE,
    FilterOperator.IN,
    FilterOperator.NIN,
]


@st.composite
def leaf(draw: st.DrawFn) -> MetadataFilter:
    operator = draw(st.sampled_from(COMPARABLE))
    if operator in (FilterOperator.IN, FilterOperator.NIN):
        value: Any = draw(st.one_of(st.lists(st.integers(-3, 3), max_size=3), st.lists(st.sampled_from(["x", "y"]))))
    else:
        value = draw(scalars)
    return MetadataFilter(key=draw(st.sampled_from(KEYS)), value=value, operator=operator)


@settings(max_examples=300, deadline=None)
@given(
    leaves=st.lists(leaf(), min_size=1, max_size=3),
    condition=st.sampled_from([FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT]),
    metadata=st.dictionaries(st.sampled_from(KEYS), metadata_values),
)
def test_same_answer_as_llamaindex(
    leaves: list[MetadataFilter], condition: FilterCondition, metadata: dict[str, Any]
) -> None:
    filters = MetadataFilters(filters=list(leaves), condition=condition)
    reference = build_metadata_filter_fn(lambda _: metadata, filters)
    try:
        expected = reference("node")
    except TypeError:  # LlamaIndex compares 1 < "x" and fails; memorylink says false
        return
    if any(isinstance(metadata.get(f.key), list) for f in leaves):
        return  # LlamaIndex compares a list with ==, <, in ...; memorylink matches a list to no scalar
    compiled = to_memorylink_filter(filters)
    assert Filter.parse(compiled).matches(record(metadata)) == expected


LIST_OPERATORS = [FilterOperator.CONTAINS, FilterOperator.ANY, FilterOperator.ALL, FilterOperator.TEXT_MATCH]
_LIST_VALUED = {FilterOperator.ANY, FilterOperator.ALL}
words = st.sampled_from(["x", "y", "xy"])


@st.composite
def list_leaf(draw: st.DrawFn) -> MetadataFilter:
    operator = draw(st.sampled_from(LIST_OPERATORS))
    value: Any = draw(st.lists(words, min_size=1, max_size=3)) if operator in _LIST_VALUED else draw(words)
    return MetadataFilter(key=draw(st.sampled_from(KEYS)), value=value, operator=operator)


@settings(max_examples=300, deadline=None)
@given(
    leaves=st.lists(list_leaf(), min_size=1, max_size=3),
    condition=st.sampled_from([FilterCondition.AND, FilterCondition.OR, FilterCondition.NOT]),
    metadata=st.dictionaries(st.sampled_from(KEYS), st.one_of(words, st.lists(words, max_size=3))),
)
def test_containment_means_the_same(
    leaves: list[MetadataFilter], condition: FilterCondition, metadata: dict[str, Any]
) -> None:
    filters = MetadataFilters(filters=list(leaves), condition=condition)
    try:
        expected = build_metadata_filter_fn(lambda _: metadata, filters)("node")
    except TypeError:  # TEXT_MATCH on a list value: LlamaIndex raises, memorylink says false
        return
    assert Filter.parse(to_memorylink_filter(filters)).matches(record(metadata)) == expected
