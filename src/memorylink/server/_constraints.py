"""JSON Schema constraints the store enforces, stated in the OpenAPI document.

The store validates values and limits (so the server and the library refuse the same input
with the same error); request models and route parameters only *state* those rules, with
:func:`states` markers, so the published schema says what the server accepts. A bound that
is a store setting names its :class:`~memorylink.config.Limits` field with :func:`limit`; it
is filled in from the served store's settings when the document is built
(:func:`apply_constraints`), so a server with other limits publishes its own numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "EVENT_ID",
    "KEY_ID",
    "MEMORY_ID",
    "METADATA",
    "NEW_MEMORY_USER_ID",
    "PAGE_SIZE",
    "QUERY",
    "SCOPE_ID",
    "TAG",
    "TEXT",
    "THRESHOLD",
    "TOP_K",
    "WEBHOOK_ID",
    "apply_constraints",
    "limit",
    "states",
]

MARKER = "x-memorylink-states"

_KINDS = {
    "string": ("minLength", "maxLength", "pattern", "format", "enum"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    "array": ("minItems", "maxItems"),
    "object": ("maxProperties", "propertyNames"),
}


def limit(name: str) -> dict[str, str]:
    """A bound that is the store setting ``name`` (a field of ``Limits``, or ``dimension``)."""
    return {"limit": name}


def states(**keywords: Any) -> dict[str, Any]:
    """``json_schema_extra`` stating JSON Schema ``keywords`` the store enforces (values or :func:`limit`)."""
    return {MARKER: keywords}


_NON_BLANK = r"\S"
"""Holds a character that is not whitespace: the store strips a value before it checks it is not empty."""
_BASE32 = "0-9A-TV-Za-tv-z"
"""Crockford base32 as ``memorylink.ids.decode_id`` reads it: any case, I / L / O as 1 / 1 / 0, no U."""

_SCOPE_ID_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*(?![\s\S])"
r"""Not blank, and no C0 / C1 control character or DEL: ``memorylink.models``' scope id check. ``(?![\s\S])``
ends the text where ``$`` would not (Python's ``$`` also matches before a final newline)."""

SCOPE_ID = states(minLength=1, pattern=_SCOPE_ID_TEXT, maxLength=limit("max_scope_id_length"))
NEW_MEMORY_USER_ID = states(pattern=r"^(?![\s\S])|" + _SCOPE_ID_TEXT, maxLength=limit("max_scope_id_length"))
"""Like SCOPE_ID, or empty: ``add`` reads an empty user_id as "not given" (the caller's own user)."""
TEXT = states(minLength=1, pattern=_NON_BLANK, maxLength=limit("max_text_length"))
QUERY = states(minLength=1, pattern=_NON_BLANK, maxLength=limit("max_query_length"))
TAG = states(minLength=1, pattern=_NON_BLANK, maxLength=limit("max_tag_length"))
METADATA = states(
    maxProperties=limit("max_metadata_keys"),
    propertyNames={"minLength": 1, "pattern": r"^[^.]*$"},
)
MEMORY_ID = states(pattern=rf"^[0-7OoIiLl][{_BASE32}]{{12}}$")
"""13 base32 characters whose first carries 3 bits (ids are 63-bit integers)."""
WEBHOOK_ID = states(pattern=r"^wh_[0-7][0-9A-HJKMNP-TV-Z]{12}$")
EVENT_ID = states(pattern=r"^evt_[0-7][0-9A-HJKMNP-TV-Z]{12}$")
KEY_ID = states(pattern=r"^[a-z0-9]{8}$")
TOP_K = states(minimum=1, maximum=limit("max_top_k"))
PAGE_SIZE = states(minimum=1, maximum=limit("max_page_size"))
THRESHOLD = states(minimum=0, maximum=1)


def apply_constraints(document: Any, settings: Mapping[str, int]) -> None:
    """Replace every :func:`states` marker in ``document`` by its keywords, bounds read from ``settings``.

    A marker on an ``anyOf`` (an optional field) goes to the branches its keywords apply to,
    so ``null`` stays allowed and the string (or number, array ...) branch carries the rule.
    """
    if isinstance(document, list):
        for item in document:
            apply_constraints(item, settings)
        return
    if not isinstance(document, dict):
        return
    keywords = document.pop(MARKER, None)
    for value in document.values():
        apply_constraints(value, settings)
    if keywords is None:
        return
    resolved = {name: _resolve(value, settings) for name, value in keywords.items()}
    branches = document.get("anyOf")
    targets = [b for b in branches if isinstance(b, dict) and b.get("type") != "null"] if branches else [document]
    for target in targets:
        allowed = _KINDS.get(str(target.get("type")), ())
        target.update({name: value for name, value in resolved.items() if not branches or name in allowed})


def _resolve(value: Any, settings: Mapping[str, int]) -> Any:
    if isinstance(value, dict) and set(value) == {"limit"}:
        return settings[value["limit"]]
    return value
