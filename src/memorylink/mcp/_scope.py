"""The server's scope, and how a tool call's scope arguments may narrow it (never widen it).

A server made with ``create_server(store, user_id=U, agent_id=A, admin=...)``:

* ``user_id``: a non-admin server acts for ``U`` only (or, with no ``U``, for the store's
  ``settings.default_user_id``). A tool argument ``user_id`` equal to that user is accepted,
  any other is a validation error. An admin server takes ``user_id`` from the argument, else
  ``U``; with neither, reads span every user and writes go to the store's default user.
* ``agent_id``: with ``A`` every call is pinned to ``A`` (a differing argument is an error);
  without it an ``agent_id`` argument narrows the call.
* ``run_id``: an argument always narrows the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from memorylink.config import Limits
from memorylink.errors import ValidationError
from memorylink.models import check_scope_id

__all__ = ["ServerScope"]


class ScopeArgs(TypedDict):
    """The scope keyword arguments of a store call."""

    user_id: str | None
    agent_id: str | None
    run_id: str | None


@dataclass(frozen=True)
class ServerScope:
    """The scope every call of one server is confined to."""

    user_id: str | None
    agent_id: str | None
    admin: bool
    default_user_id: str
    limits: Limits

    def describe(self) -> str:
        """A short phrase naming the scope, for tool descriptions and error messages."""
        if self.admin:
            who = f"user {self.user_id!r} by default (admin: any user)" if self.user_id else "every user (admin)"
        else:
            who = f"user {self._fixed_user()!r}"
        return who + (f", agent {self.agent_id!r}" if self.agent_id else "")

    def _fixed_user(self) -> str:
        return self.user_id or self.default_user_id

    def _user(self, value: object, *, reading: bool) -> str | None:
        user_id = check_scope_id("user_id", value, self.limits)
        if self.admin:
            if user_id is not None:
                return user_id
            # An admin server with no user of its own reads across users; its writes go to
            # the store's default user (the store fills that in).
            return self.user_id if (self.user_id is not None or reading) else None
        fixed = self._fixed_user()
        if user_id is not None and user_id != fixed:
            raise ValidationError(
                f"user_id {user_id!r} is outside this server's scope (it serves user {fixed!r}); "
                "only an admin server (admin=True, CLI --admin) accepts another user_id",
                field="user_id",
            )
        return fixed

    def _agent(self, value: object) -> str | None:
        agent_id = check_scope_id("agent_id", value, self.limits)
        if self.agent_id is None:
            return agent_id
        if agent_id is not None and agent_id != self.agent_id:
            raise ValidationError(
                f"agent_id {agent_id!r} is outside this server's scope (it serves agent {self.agent_id!r})",
                field="agent_id",
            )
        return self.agent_id

    def read(self, user_id: object = None, agent_id: object = None, run_id: object = None) -> ScopeArgs:
        """Scope keyword arguments for a store read, get, update or delete."""
        return {
            "user_id": self._user(user_id, reading=True),
            "agent_id": self._agent(agent_id),
            "run_id": check_scope_id("run_id", run_id, self.limits),
        }

    def write(self, user_id: object = None, agent_id: object = None, run_id: object = None) -> ScopeArgs:
        """Scope keyword arguments for a new memory."""
        return {
            "user_id": self._user(user_id, reading=False),
            "agent_id": self._agent(agent_id),
            "run_id": check_scope_id("run_id", run_id, self.limits),
        }

    def item(self, raw: object, defaults: Mapping[str, Any]) -> object:
        """One ``add_memories`` item with this scope applied (the call's arguments fill gaps).

        Items that are neither a string nor an object pass through unchanged, for the store
        to reject with its own message.
        """
        if isinstance(raw, str):
            raw = {"text": raw}
        if not isinstance(raw, Mapping):
            return raw
        item = dict(raw)
        scope = self.write(
            *(item.get(name) if item.get(name) is not None else defaults.get(name) for name in _SCOPE_FIELDS)
        )
        item.update(scope)
        return item


_SCOPE_FIELDS = ("user_id", "agent_id", "run_id")
