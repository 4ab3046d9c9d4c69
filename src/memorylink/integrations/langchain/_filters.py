"""LangChain-style metadata filters, translated into memorylink's filter language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memorylink.errors import ValidationError
from memorylink.filters import Filter

__all__ = ["to_memorylink_filter"]

# Fields of the filter language that are not metadata keys: a filter key among these (or
# starting with "metadata.") passes through unchanged; any other key names a metadata key.
_FIELDS = frozenset({"tags", "user_id", "agent_id", "run_id", "created_at", "updated_at"})
_COMBINATORS = {"and": "and", "or": "or", "not": "not", "$and": "and", "$or": "or", "$not": "not"}


def to_memorylink_filter(spec: Mapping[str, Any] | Filter | None) -> Mapping[str, Any] | Filter | None:
    """Translate a ``filter=`` argument into memorylink's filter language.

    * memorylink's own language passes through: ``{"metadata.source": "zoom"}``,
      ``{"tags": {"any": [...]}}``, ``{"created_at": {"gte": "2024-01-01"}}``, ``and`` / ``or``
      / ``not``, or a parsed :class:`~memorylink.filters.Filter`.
    * A bare key is a metadata key (LangChain's convention): ``{"source": "zoom"}`` means
      ``{"metadata.source": "zoom"}``. To filter on a metadata key named like a field
      (``tags``, ``user_id`` ...), write ``metadata.<key>``.
    * Mongo-style operators, as several LangChain stores take them, lose their ``$``:
      ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``,
      ``{"year": {"$gte": 2020}}``, ``{"kind": {"$in": ["a", "b"]}}``.

    The result is validated by the store (an unknown operator or a wrong value type is a
    :class:`~memorylink.errors.ValidationError` naming it).
    """
    if spec is None or isinstance(spec, Filter):
        return spec
    return _translate(spec, "filter")


def _translate(spec: object, path: str) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise ValidationError(f"{path} must be an object (dict)", field=path)
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if not isinstance(key, str):
            raise ValidationError(f"{path} keys must be strings", field=path)
        if key in _COMBINATORS:
            name = _COMBINATORS[key]
            if name == "not":
                translated: Any = _translate(value, f"{path}.not")
            elif isinstance(value, list):
                translated = [_translate(item, f"{path}.{name}[{i}]") for i, item in enumerate(value)]
            else:
                raise ValidationError(f"{path}.{name} must be a list of filter objects", field=f"{path}.{name}")
        else:
            name = key if key in _FIELDS or key.startswith("metadata.") else f"metadata.{key}"
            translated = _operators(value)
        if name in out:
            raise ValidationError(f"{path} names {name!r} twice (as {key!r} and another key)", field=f"{path}.{name}")
        out[name] = translated
    return out


def _operators(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {(k[1:] if isinstance(k, str) and k.startswith("$") else k): v for k, v in value.items()}
    return value
