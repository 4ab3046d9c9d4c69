"""Review of the routes: a string that is not valid Unicode (a lone surrogate escape) is the caller's fault.

JSON may spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a str that
UTF-8 cannot encode, so the store failed with a UnicodeEncodeError: a 500 for bad input.
"""

from __future__ import annotations

import pytest
from server_helpers import ALICE, Api, assert_error

from memorylink import MemoryStore
from memorylink.errors import ValidationError
from memorylink.models import BatchResult

M = "/api/v1/memories"
LONE = "\\ud800"  # as JSON text: a lone high surrogate


def post_raw(api: Api, path: str, body: str) -> object:
    return api.post(path, content=body.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (M, f'{{"text": "a{LONE}b"}}', "text"),
        (M, f'{{"text": "ok", "tags": ["t{LONE}"]}}', "tags[0]"),
        (M, f'{{"text": "ok", "metadata": {{"k": "v{LONE}"}}}}', "metadata"),
        (M, f'{{"text": "ok", "metadata": {{"k{LONE}": 1}}}}', "metadata"),
        (M, f'{{"text": "ok", "agent_id": "a{LONE}"}}', "agent_id"),
        (f"{M}/search", f'{{"query": "q{LONE}"}}', "query"),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(api: Api, path: str, body: str, field: str) -> None:
    error = assert_error(post_raw(api.as_(ALICE), path, body), 422, "validation_error")
    assert error["details"]["field"] == field


def test_a_batch_item_with_a_lone_surrogate_fails_alone(api: Api, store: MemoryStore) -> None:
    response = post_raw(api.as_(ALICE), f"{M}/batch", f'{{"items": ["a{LONE}b", "fine"]}}')
    assert response.status_code == 200, response.text
    result = BatchResult.model_validate(response.json())
    assert (result.succeeded, result.failed) == (1, 1)
    assert result.items[0].error is not None and result.items[0].error.details["field"] == "text"
    assert [m.text for m in store.list(user_id="alice").items] == ["fine"]


def test_the_library_refuses_it_with_a_validation_error(store: MemoryStore) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add("a\ud800b")
    assert caught.value.field == "text"
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"k": "\udc80"})
    memory = store.add("ok")
    with pytest.raises(ValidationError):
        store.update(memory.id, tags=["\udfff"])
