"""LlamaIndex ``MetadataFilters`` compiled into memorylink's filter language (docs/filters.md).

Each ``MetadataFilter(key, value, operator)`` reads ``metadata.<key>``:

========================  ==================================================
LlamaIndex operator       memorylink filter
========================  ==================================================
``EQ`` ``NE``             ``eq`` / ``ne``
``GT`` ``GTE``            ``gt`` / ``gte``
``LT`` ``LTE``            ``lt`` / ``lte``
``IN`` ``NIN``            ``in`` / ``nin`` (the value must be a list)
``CONTAINS``              ``contains`` (a list holds the value, or a string holds it as a substring)
``TEXT_MATCH``            ``contains`` with a string value (substring, case-sensitive)
``ANY`` / ``ALL``         ``or`` / ``and`` of one ``contains`` per value
``IS_EMPTY``              missing, null or ``""`` (an empty list is not matched)
========================  ==================================================

Conditions: ``AND`` -> ``and``, ``OR`` -> ``or``, ``NOT`` -> ``not`` of the ``or`` (none of the
filters holds, as LlamaIndex's own in-memory store reads it). ``MetadataFilters`` nest; an empty one filters nothing.
``TEXT_MATCH_INSENSITIVE`` has no counterpart and raises
:class:`~memorylink.errors.ValidationError`, as does a ``None`` value for any operator but
``IS_EMPTY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from memorylink.errors import ValidationError

__all__ = ["SUPPORTED_OPERATORS", "to_memorylink_filter"]

_DIRECT: dict[FilterOperator, str] = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.CONTAINS: "contains",
    FilterOperator.TEXT_MATCH: "contains",
}
_LISTS = {FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL}

SUPPORTED_OPERATORS: frozenset[FilterOperator] = frozenset(
    {*_DIRECT, FilterOperator.ANY, FilterOperator.ALL, FilterOperator.IS_EMPTY}
)
"""The LlamaIndex filter operators this adapter maps; any other raises ValidationError."""


def to_memorylink_filter(filters: MetadataFilters | None, *, path: str = "filters") -> dict[str, Any] | None:
    """The memorylink filter (a JSON-able dict) equivalent to ``filters``, or None for no filter.

    Raises:
        ValidationError: An operator with no memorylink counterpart, or a value it cannot
            take (``field`` names the filter, e.g. ``filters.filters[1]``).
    """
    if filters is None or not filters.filters:
        return None
    return _group(filters, path)


def _group(filters: MetadataFilters, path: str) -> dict[str, Any]:
    if not filters.filters:  # LlamaIndex reads an empty group as "no filter", whatever its condition
        return {}
    parts = [
        _group(item, f"{path}.filters[{position}]")
        if isinstance(item, MetadataFilters)
        else _leaf(item, f"{path}.filters[{position}]")
        for position, item in enumerate(filters.filters)
    ]
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"and": parts}
    if condition == FilterCondition.OR:
        return {"or": parts}
    if condition == FilterCondition.NOT:
        return {"not": {"or": parts}}
    raise ValidationError(f"{path}.condition: unsupported filter condition {condition!r}", field=f"{path}.condition")


def _leaf(item: MetadataFilter, path: str) -> dict[str, Any]:
    field = f"metadata.{item.key}"
    operator, value = item.operator, item.value
    if operator == FilterOperator.IS_EMPTY:
        # memorylink has no test for an empty list, so [] is not matched (documented).
        return {"or": [{field: {"exists": False}}, {field: {"eq": ""}}]}
    if operator not in SUPPORTED_OPERATORS:
        supported = ", ".join(sorted(op.name for op in SUPPORTED_OPERATORS))
        raise ValidationError(
            f"{path}: the filter operator {operator.name} ({operator.value!r}) has no memorylink "
            f"counterpart (supported: {supported})",
            field=path,
            details={"operator": operator.value},
        )
    if value is None:
        raise ValidationError(
            f"{path}: a None value cannot be compared; use FilterOperator.IS_EMPTY for a missing field",
            field=path,
        )
    is_list = isinstance(value, Sequence) and not isinstance(value, str)
    if (operator in _LISTS) != is_list:
        wanted = "a list of values" if operator in _LISTS else "a single value"
        raise ValidationError(f"{path}: {operator.name} needs {wanted}, got {value!r}", field=path)
    if operator == FilterOperator.TEXT_MATCH and not isinstance(value, str):
        raise ValidationError(f"{path}: TEXT_MATCH needs a string, got {value!r}", field=path)
    if operator in (FilterOperator.ANY, FilterOperator.ALL):
        assert isinstance(value, list)
        combinator = "or" if operator == FilterOperator.ANY else "and"
        return {combinator: [{field: {"contains": one}} for one in value]}
    return {field: {_DIRECT[operator]: list(value) if isinstance(value, list) else value}}
