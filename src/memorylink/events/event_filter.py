"""Which event types a webhook endpoint wants: every event, none, or names and ``prefix.*`` patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable

from memorylink.errors import ValidationError

__all__ = ["MAX_PATTERNS", "EventFilter"]

MAX_PATTERNS = 64
_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_PREFIX = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*")
_FORMS = (
    "a list whose entries are '*', event names such as 'memory.created' or prefixes such as 'memory.*'; "
    "or None / '*' / 'all' for every event, 'none' / [] for none"
)


class EventFilter:
    """An immutable set of event names and prefixes. Build with :meth:`parse`."""

    __slots__ = ("_all", "_names", "_prefixes")

    _all: bool
    _names: frozenset[str]
    _prefixes: frozenset[str]  # stored with their trailing ".", e.g. "memory."

    def __init__(self, *, everything: bool, names: frozenset[str], prefixes: frozenset[str]) -> None:
        object.__setattr__(self, "_all", everything)
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_prefixes", frozenset(prefixes))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EventFilter is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EventFilter is immutable; cannot delete {name!r}")

    @classmethod
    def parse(cls, value: Iterable[str] | str | None) -> EventFilter:
        """``None`` / ``"*"`` / ``"all"``: every event; ``"none"`` / ``[]``: none; else names and prefixes.

        Raises:
            ValidationError: An entry is not a name or prefix, or there are more than 64.
        """
        if value is None or value in ("*", "all"):
            return cls(everything=True, names=frozenset(), prefixes=frozenset())
        if value == "none":
            return cls(everything=False, names=frozenset(), prefixes=frozenset())
        entries = [value] if isinstance(value, str) else value
        try:
            items = list(entries)
        except TypeError:
            raise ValidationError(f"events must be {_FORMS}", field="events") from None
        unique: set[str] = set()
        for item in items:
            if not isinstance(item, str) or not (item == "*" or _NAME.fullmatch(item) or _PREFIX.fullmatch(item)):
                raise ValidationError(f"events: bad entry {item!r}; events must be {_FORMS}", field="events")
            unique.add(item)
        if len(unique) > MAX_PATTERNS:
            raise ValidationError(f"events: {len(unique)} patterns given; the limit is {MAX_PATTERNS}", field="events")
        if "*" in unique:
            return cls(everything=True, names=frozenset(), prefixes=frozenset())
        names = frozenset(item for item in unique if not item.endswith(".*"))
        prefixes = frozenset(item[:-1] for item in unique if item.endswith(".*"))
        return cls(everything=False, names=names, prefixes=prefixes)

    @property
    def matches_all(self) -> bool:
        """Whether every event passes."""
        return self._all

    @property
    def matches_none(self) -> bool:
        """Whether no event passes."""
        return not self._all and not self._names and not self._prefixes

    def matches(self, event_type: str) -> bool:
        """Whether an event of this type passes."""
        if self._all or event_type in self._names:
            return True
        return any(event_type.startswith(prefix) for prefix in self._prefixes)

    def to_list(self) -> list[str] | None:
        """``None`` for every event, ``[]`` for none, else the sorted names and prefixes."""
        if self._all:
            return None
        return sorted([*self._names, *(prefix + "*" for prefix in self._prefixes)])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventFilter):
            return NotImplemented
        return self.to_list() == other.to_list()

    def __hash__(self) -> int:
        listed = self.to_list()
        return hash(None if listed is None else tuple(listed))

    def __repr__(self) -> str:
        listed = self.to_list()
        return "EventFilter(all)" if listed is None else f"EventFilter({listed!r})"
