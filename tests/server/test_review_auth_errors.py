"""Review finding: a form the server cannot parse (the token endpoint's) is not called invalid JSON."""

from __future__ import annotations

import pytest
from auth_helpers import AuthApp, make_auth_app

from memorylink import MemoryStore

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def auth(store: MemoryStore) -> AuthApp:
    return make_auth_app(store)


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b"&".join(b"f%d=v" % n for n in range(1100)) + b"&username=a&password=b", FORM, "Too many fields"),
        (b"username=a&password=b", "multipart/form-data", "form"),
    ],
)
def test_an_unparsable_form_is_a_422_that_says_form(
    auth: AuthApp, content: bytes, content_type: str, says: str
) -> None:
    response = auth.client.post("/api/v1/auth/token", content=content, headers={"content-type": content_type})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["request_id"] == response.headers["X-Request-ID"]
    assert "JSON" not in error["message"] and says in error["message"]
    assert error["details"]["errors"][0]["type"] == "form_invalid"


def test_an_undecodable_json_body_is_still_invalid_json(auth: AuthApp) -> None:
    headers = {"content-type": "application/json", "X-API-Key": auth.key(user_id="alice")}
    response = auth.client.post("/api/v1/memories", content=b'{"text": "\xff"}', headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["type"] == "json_invalid"
