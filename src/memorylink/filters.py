"""The filter language shared by the library, REST, MCP and the CLI.

A filter is a JSON-able dict::

    {"tags": {"any": ["meeting", "q4"]},
     "created_at": {"gte": "2024-01-01", "lt": "2024-04-01"},
     "metadata.source": "zoom",
     "or": [{"metadata.duration_minutes": {"gt": 30}}, {"not": {"tags": {"any": ["draft"]}}}]}

:meth:`Filter.parse` validates and normalises it once and compiles it to nested
closures, so :meth:`Filter.matches` is cheap. The language, its semantics and its
limits are described in ``docs/filters.md``.
"""

from __future__ import annotations

import copy
import json
import math
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeAlias

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from memorylink.errors import LimitExceededError, ValidationError

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_VALUES", "Filter", "FilterTarget", "compile_filter"]

MAX_DEPTH = 16
"""Filter objects may nest at most this deep (the top level is depth 1); limit ``max_filter_depth``."""
MAX_NODES = 256
"""At most this many nodes (filter objects, combinators, field operators); limit ``max_filter_nodes``."""
MAX_VALUES = 1024
"""At most this many values in one ``in`` / ``nin`` / ``any`` / ``all`` / ``none`` list."""

SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
DATE_FIELDS = ("created_at", "updated_at")
COMBINATORS = ("and", "or", "not")
VALUE_OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists")
DATE_OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists")
TAG_OPERATORS = ("any", "all", "none")

_FIELDS_HINT = "metadata.<key>, user_id, agent_id, run_id, created_at, updated_at, tags, and, or, not"
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class FilterTarget(Protocol):
    """What a filter is evaluated against (:class:`memorylink.models.Memory` satisfies it).

    ``created_at`` / ``updated_at`` are timezone-aware (naive values are read as UTC).
    A ``None`` ``agent_id`` / ``run_id`` counts as missing.
    """

    @property
    def user_id(self) -> str: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def tags(self) -> Collection[str]: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


Predicate: TypeAlias = Callable[[FilterTarget], bool]
Getter: TypeAlias = Callable[[FilterTarget], Any]
Test: TypeAlias = Callable[[Any], bool]


# --------------------------------------------------------------------------- validation


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", field=path)


def _check_unicode(norm: Mapping[str, Any], path: str) -> None:
    """Refuse strings UTF-8 cannot encode (a lone surrogate): the filter is echoed and recorded as JSON."""
    try:
        json.dumps(norm, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise _fail(path, "holds a string that is not valid Unicode (a lone surrogate)") from None


class _Budget:
    """Counts nodes while parsing, to enforce :data:`MAX_NODES`."""

    nodes = 0

    def spend(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise LimitExceededError(
                f"{path}: the filter has over {MAX_NODES} nodes; the limit max_filter_nodes is {MAX_NODES}",
                limit="max_filter_nodes",
                maximum=MAX_NODES,
                field=path,
            )


def _field_kind(key: str, path: str) -> str:
    if key in SCOPE_FIELDS:
        return "scope"
    if key in DATE_FIELDS:
        return "date"
    if key == "tags":
        return "tags"
    if key.startswith("metadata."):
        if all(key.split(".")[1:]):
            return "meta"
        raise _fail(path, f"invalid metadata path {key!r} (expected metadata.<key>, keys must not be empty)")
    if key == "metadata":
        raise _fail(path, "unknown field 'metadata' (name a key: 'metadata.<key>')")
    raise _fail(path, f"unknown field {key!r} (expected one of {_FIELDS_HINT})")


def _check_length(values: Sequence[Any], path: str) -> None:
    if len(values) > MAX_VALUES:
        raise LimitExceededError(
            f"{path}: {len(values)} values given; the limit max_filter_values is {MAX_VALUES}",
            limit="max_filter_values",
            maximum=MAX_VALUES,
            actual=len(values),
            field=path,
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_datetime(value: object, path: str) -> datetime:
    """An aware UTC datetime from a datetime, a date or an ISO-8601 string (naive means UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _fail(path, f"invalid ISO-8601 date or datetime {value!r}") from None
    else:
        raise _fail(path, f"expected an ISO-8601 date/datetime string or a datetime, got {_type_name(value)}")
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise _fail(path, f"date {value!r} is out of range") from None


def _normalise_scalar(kind: str, op: str, value: object, path: str) -> Any:
    """Check one operand; return its normalised, JSON-able form."""
    if kind == "date":
        return _parse_datetime(value, path).isoformat()
    if value is None:
        raise _fail(path, "null is not a comparable value (use {'exists': false} for missing or null)")
    if kind == "scope":
        if not isinstance(value, str):
            raise _fail(path, f"expected a string, got {_type_name(value)}")
        return str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) and op not in _ORDER_OPS:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(path, f"expected a finite number, got {value!r}")
        return float(value)
    expected = "a number or a string" if op in _ORDER_OPS else "a string, number or boolean"
    raise _fail(path, f"expected {expected}, got {_type_name(value)}")


def _normalise_operand(kind: str, op: str, operand: object, path: str) -> Any:
    if op == "exists":
        if not isinstance(operand, bool):
            raise _fail(path, f"expected true or false, got {_type_name(operand)}")
        return operand
    if kind == "tags":
        if not isinstance(operand, (list, tuple)):
            raise _fail(path, f"expected a list of strings, got {_type_name(operand)}")
        _check_length(operand, path)
        for position, tag in enumerate(operand):
            if not isinstance(tag, str):
                raise _fail(f"{path}[{position}]", f"expected a string, got {_type_name(tag)}")
        return [str(tag) for tag in operand]
    if op in ("in", "nin"):
        if not isinstance(operand, (list, tuple)):
            raise _fail(path, f"expected a list of values, got {_type_name(operand)}")
        _check_length(operand, path)
        return [_normalise_scalar(kind, op, item, f"{path}[{i}]") for i, item in enumerate(operand)]
    return _normalise_scalar(kind, op, operand, path)


def _normalise_condition(key: str, value: object, path: str, budget: _Budget) -> dict[str, Any]:
    kind = _field_kind(key, path)
    allowed = TAG_OPERATORS if kind == "tags" else DATE_OPERATORS if kind == "date" else VALUE_OPERATORS
    bare = not isinstance(value, Mapping)  # errors in a bare value name the field, not the implied operator
    if kind == "tags" and isinstance(value, (list, tuple)):
        value = {"any": value}
    if not isinstance(value, Mapping):
        if kind == "tags":
            raise _fail(path, f"expected a list of tags or an operator object, got {_type_name(value)}")
        if isinstance(value, (list, tuple)):
            raise _fail(path, "a bare list is not a value; use {'in': [...]} to match any of several values")
        value = {"eq": value}
    if not value:
        raise _fail(path, f"empty operator object (expected one of {', '.join(allowed)})")
    ops: dict[str, Any] = {}
    for op, operand in value.items():
        if not isinstance(op, str) or op not in allowed:
            raise _fail(path, f"unknown operator {op!r} (expected one of {', '.join(allowed)})")
        budget.spend(f"{path}.{op}")
        ops[op] = _normalise_operand(kind, op, operand, path if bare else f"{path}.{op}")
    return ops


def _normalise(spec: object, path: str, depth: int, budget: _Budget) -> dict[str, Any]:
    """Validate one filter object; return its normalised, JSON-able form."""
    if depth > MAX_DEPTH:
        raise LimitExceededError(
            f"{path}: the filter nests over {MAX_DEPTH} levels; the limit max_filter_depth is {MAX_DEPTH}",
            limit="max_filter_depth",
            maximum=MAX_DEPTH,
            field=path,
        )
    if isinstance(spec, Filter):
        spec = spec._norm
    if not isinstance(spec, Mapping):
        raise _fail(path, f"expected a filter object (dict), got {_type_name(spec)}")
    budget.spend(path)
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if not isinstance(key, str):
            raise _fail(path, f"keys must be strings, got {_type_name(key)}")
        sub = f"{path}.{key}"
        if key in ("and", "or"):
            if not isinstance(value, (list, tuple)):
                raise _fail(sub, f"expected a list of filter objects, got {_type_name(value)}")
            budget.spend(sub)
            out[key] = [_normalise(item, f"{sub}[{i}]", depth + 1, budget) for i, item in enumerate(value)]
        elif key == "not":
            if not isinstance(value, (Mapping, Filter)):
                raise _fail(sub, f"expected a filter object (dict), got {_type_name(value)}")
            budget.spend(sub)
            out[key] = _normalise(value, sub, depth + 1, budget)
        else:
            out[key] = _normalise_condition(key, value, sub, budget)
    return out


# --------------------------------------------------------------------------- compilation


def _true(target: FilterTarget) -> bool:
    return True


def _false(target: FilterTarget) -> bool:
    return False


def _all(preds: Sequence[Predicate]) -> Predicate:
    if not preds:
        return _true
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda t: first(t) and second(t)
    items = tuple(preds)
    return lambda t: all(pred(t) for pred in items)


def _any(preds: Sequence[Predicate]) -> Predicate:
    if not preds:
        return _false
    if len(preds) == 1:
        return preds[0]
    items = tuple(preds)
    return lambda t: any(pred(t) for pred in items)


def _negate(pred: Predicate) -> Predicate:
    return lambda t: not pred(t)


def _getter(field: str, kind: str) -> Getter:
    """Reads a field; ``None`` means missing."""
    if kind == "scope":
        return operator.attrgetter(field)
    if kind == "date":
        read = operator.attrgetter(field)

        def get_date(target: FilterTarget) -> Any:
            value = read(target)
            if isinstance(value, datetime) and value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value

        return get_date
    keys = field.split(".")[1:]
    if len(keys) == 1:
        key = keys[0]
        return lambda t: t.metadata.get(key)

    def get_path(target: FilterTarget) -> Any:
        value: Any = target.metadata
        for part in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get_path


def _eq_test(x: Any) -> Test:
    if isinstance(x, bool):
        return lambda v: v is x
    if isinstance(x, (int, float)):
        return lambda v: v == x and _is_number(v)
    if isinstance(x, datetime):
        return lambda v: isinstance(v, datetime) and v == x
    return lambda v: isinstance(v, str) and v == x


def _in_test(values: Sequence[Any]) -> Test:
    strs = frozenset(v for v in values if isinstance(v, str))
    nums = frozenset(v for v in values if _is_number(v))
    bools = frozenset(v for v in values if isinstance(v, bool))
    dates = frozenset(v for v in values if isinstance(v, datetime))

    def member(v: Any) -> bool:
        if isinstance(v, str):
            return v in strs
        if isinstance(v, bool):
            return v in bools
        if isinstance(v, (int, float)):
            return v in nums
        if isinstance(v, datetime):
            return v in dates
        return False

    return member


def _ordered(get: Getter, op: str, x: Any) -> Predicate:
    compare = _ORDER_OPS[op]
    kinds = str if isinstance(x, str) else datetime if isinstance(x, datetime) else (int, float)

    def check(target: FilterTarget) -> bool:
        v = get(target)
        return isinstance(v, kinds) and v.__class__ is not bool and compare(v, x)

    return check


def _contains_test(x: Any) -> Test:
    if isinstance(x, str):
        return lambda v: isinstance(v, (str, list, tuple)) and x in v
    item_eq = _eq_test(x)
    return lambda v: isinstance(v, (list, tuple)) and any(item_eq(item) for item in v)


def _present(get: Getter, test: Test) -> Predicate:
    def check(target: FilterTarget) -> bool:
        value = get(target)
        return value is not None and test(value)

    return check


def _eq_str(get: Getter, x: str) -> Predicate:
    return lambda t: get(t) == x  # the common case in one call: only a string equals a string


def _compile_op(field: str, kind: str, op: str, operand: Any) -> Predicate:
    if kind == "tags":
        wanted = frozenset(operand)
        if op == "any":
            return (lambda t: not wanted.isdisjoint(t.tags)) if wanted else _false
        if op == "all":
            return (lambda t: wanted.issubset(t.tags)) if wanted else _true
        return (lambda t: wanted.isdisjoint(t.tags)) if wanted else _true
    get = _getter(field, kind)
    if op == "exists":
        return (lambda t: get(t) is not None) if operand else (lambda t: get(t) is None)
    if kind == "date":
        fromiso = datetime.fromisoformat
        operand = [fromiso(v) for v in operand] if op in ("in", "nin") else fromiso(operand)
    if op in _ORDER_OPS:
        return _ordered(get, op, operand)
    if op == "contains":
        return _present(get, _contains_test(operand))
    if op in ("eq", "ne"):
        pred = _eq_str(get, operand) if isinstance(operand, str) else _present(get, _eq_test(operand))
    else:
        pred = _present(get, _in_test(operand))
    return pred if op in ("eq", "in") else _negate(pred)


def _compile(norm: Mapping[str, Any], fields: set[str]) -> Predicate:
    """Compile a normalised filter object; add the fields it reads to ``fields``."""
    preds: list[Predicate] = []
    for key, value in norm.items():
        if key == "and":
            preds.append(_all([_compile(item, fields) for item in value]))
        elif key == "or":
            preds.append(_any([_compile(item, fields) for item in value]))
        elif key == "not":
            preds.append(_negate(_compile(value, fields)))
        else:
            fields.add(key)
            kind = _field_kind(key, key)
            preds.extend(_compile_op(key, kind, op, operand) for op, operand in value.items())
    return _all(preds)


# --------------------------------------------------------------------------- the public class


class Filter:
    """A validated, compiled filter. Immutable, hashable and comparable by its normalised form.

    Build one with :meth:`parse` (or ``Filter(spec)``), :meth:`from_shortcuts` or :meth:`all_of`.
    """

    __slots__ = ("_fields", "_key", "_norm", "_pred")

    _norm: dict[str, Any]
    _key: str
    _pred: Predicate
    _fields: frozenset[str]

    def __init__(self, spec: Mapping[str, Any], *, path: str = "filter") -> None:
        """Validate and compile ``spec``; see :meth:`parse` (which also accepts ``None``)."""
        norm = _normalise(spec, path, 1, _Budget())
        _check_unicode(norm, path)
        self._set(norm)

    def _set(self, norm: dict[str, Any]) -> None:
        self._norm = norm
        self._key = json.dumps(norm, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        fields: set[str] = set()
        self._pred = _compile(norm, fields)
        self._fields = frozenset(fields)

    @classmethod
    def _from_norm(cls, norm: dict[str, Any]) -> Filter:
        made = cls.__new__(cls)
        made._set(norm)
        return made

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | Filter | None, *, path: str = "filter") -> Filter | None:
        """Validate ``spec`` and compile it; ``None`` and ``Filter`` instances pass through.

        Args:
            spec: A filter dict, a ``Filter`` or ``None``.
            path: The name of the filter's root in error messages (``"filter"``, ``"where"`` ...).

        Returns:
            The compiled filter, or ``None`` when ``spec`` is ``None``.

        Raises:
            ValidationError: The spec is invalid; the message and ``field`` name the exact path.
                A ``LimitExceededError`` (a subclass) when a limit (:data:`MAX_NODES` ...) is exceeded.
        """
        if spec is None or isinstance(spec, Filter):
            return spec
        return cls(spec, path=path)

    @classmethod
    def from_shortcuts(
        cls,
        *,
        tags: Sequence[str] | None = None,
        date_range: tuple[datetime | str | None, datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Filter | None:
        """Compile the ``tags=`` / ``date_range=`` / ``metadata=`` shortcuts of ``search`` and ``list``.

        Args:
            tags: At least one of these tags (``{"tags": {"any": tags}}``); empty adds no condition.
            date_range: ``(start, end)``: ``created_at >= start`` and ``< end``; either may be ``None``.
            metadata: ``{key: value}``: ``metadata.<key>`` equals ``value``, for every item.

        Returns:
            The filter, or ``None`` when no shortcut adds a condition.

        Raises:
            ValidationError: A shortcut is invalid; ``field`` names it (``date_range[0]`` ...).
        """
        spec: dict[str, Any] = {}
        if tags is not None:
            if isinstance(tags, str) or not isinstance(tags, (list, tuple, set, frozenset)):
                raise _fail("tags", f"expected a list of strings, got {_type_name(tags)}")
            if tags:
                items = list(tags) if isinstance(tags, (list, tuple)) else sorted(tags, key=str)
                spec["tags"] = {"any": _normalise_operand("tags", "any", items, "tags")}
        if date_range is not None:
            if not isinstance(date_range, (list, tuple)) or len(date_range) != 2:
                raise _fail("date_range", "expected a (start, end) pair; either side may be None")
            bounds: dict[str, Any] = {}
            for position, (op, bound) in enumerate(zip(("gte", "lt"), date_range, strict=True)):
                if bound is not None:
                    bounds[op] = _parse_datetime(bound, f"date_range[{position}]").isoformat()
            if bounds:
                spec["created_at"] = bounds
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise _fail("metadata", f"expected an object (dict), got {_type_name(metadata)}")
            for key, value in metadata.items():
                if not isinstance(key, str) or not key:
                    raise _fail("metadata", f"keys must be non-empty strings, got {key!r}")
                field = f"metadata.{key}"
                _field_kind(field, field)
                spec[field] = {"eq": _normalise_scalar("meta", "eq", value, field)}
        for name, part in spec.items():
            _check_unicode({name: part}, "metadata" if name.startswith("metadata.") else name)
        return cls._from_norm(spec) if spec else None

    @classmethod
    def all_of(cls, *filters: Filter | Mapping[str, Any] | None) -> Filter | None:
        """AND the given filters together, skipping ``None``.

        Sibling keys are merged into one object where they do not collide; the rest go into
        an ``and`` list. Limits are not re-applied to the combination.

        Returns:
            The combined filter, the only one given, or ``None`` when all are ``None``.
        """
        present = [f for f in (cls.parse(spec) for spec in filters) if f is not None]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        merged: dict[str, Any] = {}
        extra: list[dict[str, Any]] = []
        for item in present:
            for key, value in item._norm.items():
                if key == "and":
                    extra.extend(value)
                elif key in merged:
                    extra.append({key: value})
                else:
                    merged[key] = value
        if extra:
            merged["and"] = extra
        return cls._from_norm(copy.deepcopy(merged))

    def matches(self, target: FilterTarget) -> bool:
        """Whether ``target`` (a :class:`FilterTarget`, e.g. a ``Memory``) satisfies the filter."""
        return self._pred(target)

    def to_dict(self) -> dict[str, Any]:
        """The normalised, JSON-able form; ``Filter.parse(f.to_dict()) == f``.

        Bare values become ``{"eq": value}``, a bare tag list ``{"any": [...]}`` and dates
        ISO-8601 strings in UTC (``"2024-01-01T00:00:00+00:00"``).
        """
        return copy.deepcopy(self._norm)

    @property
    def fields(self) -> frozenset[str]:
        """The fields the filter reads, e.g. ``frozenset({"tags", "metadata.source"})``."""
        return self._fields

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Filter):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"Filter({self._norm!r})"

    def __reduce__(self) -> tuple[Callable[[dict[str, Any]], Filter], tuple[dict[str, Any]]]:
        return (Filter._from_norm, (self._norm,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        """Let ``Filter`` be a pydantic field: validated from a dict, serialised with :meth:`to_dict`."""
        return core_schema.no_info_plain_validator_function(
            _pydantic_validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                Filter.to_dict, return_schema=core_schema.dict_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """A filter is a JSON object; see docs/filters.md for the language."""
        return {"type": "object", "title": "Filter", "description": "A memorylink filter (docs/filters.md)."}


def _pydantic_validate(value: Any) -> Filter:
    try:
        parsed = Filter.parse(value)
    except ValidationError as exc:
        raise PydanticCustomError(
            "filter_invalid", "{reason}", {"reason": exc.message, "field": exc.field or "filter"}
        ) from exc
    if parsed is None:
        raise PydanticCustomError("filter_invalid", "expected a filter object (dict), got null")
    return parsed


def compile_filter(spec: Mapping[str, Any] | Filter | None) -> Predicate:
    """A predicate for ``spec``: ``Filter.parse(spec).matches``, or always-true for ``None``.

    Raises:
        ValidationError: The spec is invalid.
    """
    parsed = Filter.parse(spec)
    return _true if parsed is None else parsed.matches
