"""Review of the JSON query parameters (``filter``, ``metadata``): text json.loads refuses is a 422, never a 500."""

from __future__ import annotations

import pytest
from server_helpers import ALICE, Api, assert_error

M = "/api/v1/memories"
HUGE_INT = "9" * 5000  # past Python's 4,300-digit int conversion limit: json.loads raises ValueError
DEEP = "[" * 9000 + "]" * 9000  # json.loads raises RecursionError


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("metadata", f'{{"k": {HUGE_INT}}}'),
        ("filter", f'{{"metadata.k": {HUGE_INT}}}'),
        ("filter", f'{{"metadata.k": {DEEP}}}'),
    ],
)
def test_json_text_the_parser_refuses_is_a_422_naming_the_parameter(api: Api, name: str, raw: str) -> None:
    alice = api.as_(ALICE)
    memory = alice.post(M, json={"text": "hello"}).json()
    for path in (M, f"{M}/{memory['id']}/similar"):
        if name == "metadata" and path != M:
            continue
        error = assert_error(alice.get(path, params={name: raw}), 422, "validation_error")
        assert error["details"]["field"] == name
