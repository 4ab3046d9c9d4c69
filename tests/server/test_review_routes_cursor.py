"""Review of GET /api/v1/memories: a forged cursor is a 422, never a 500 or another user's page."""

from __future__ import annotations

import base64
import json

import pytest
from server_helpers import ALICE, BOB, Api, assert_error

from memorylink.models import Memory, Page

M = "/api/v1/memories"


def forged(cursor: str, key_json: str) -> str:
    """``cursor`` with its position replaced by ``key_json`` (its query fingerprint kept, as anyone can)."""
    fingerprint = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["f"]
    raw = f'{{"k":{key_json},"f":"{fingerprint}"}}'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("key_json", ["[1e999,1]", "[1,100000000000000000000000000000]", "[1,-1e999]"])
def test_a_cursor_with_a_position_out_of_range_is_a_422(api: Api, key_json: str) -> None:
    alice = api.as_(ALICE)
    for text in ("one", "two", "three"):
        assert alice.post(M, json={"text": text}).status_code == 201
    for params in ({}, {"tags": ["x"]}):
        first = alice.get(M, params={"limit": 1})
        cursor = Page[Memory].model_validate(first.json()).next_cursor
        assert cursor is not None
        error = assert_error(
            alice.get(M, params={"limit": 1, "cursor": forged(cursor, key_json), **params}), 422, "validation_error"
        )
        assert error["details"]["field"] == "cursor"


def test_a_cursor_does_not_widen_the_scope(api: Api) -> None:
    alice, bob = api.as_(ALICE), api.as_(BOB)
    for text in ("a1", "a2"):
        alice.post(M, json={"text": text})
    bob.post(M, json={"text": "bob's"})
    cursor = Page[Memory].model_validate(alice.get(M, params={"limit": 1}).json()).next_cursor
    assert cursor is not None
    # Bob's own scope has another fingerprint: Alice's cursor is refused, not read as his position.
    assert_error(bob.get(M, params={"limit": 1, "cursor": cursor}), 422, "validation_error")
    # A position before every id, with Alice's fingerprint, still pages only Alice's memories.
    page = Page[Memory].model_validate(
        alice.get(M, params={"limit": 10, "cursor": forged(cursor, "[9007199254740991,9223372036854775807]")}).json()
    )
    assert {m.user_id for m in page.items} == {"alice"}
