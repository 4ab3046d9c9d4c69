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


@pytest.fixture
def root(auth: AuthApp) -> dict[str, str]:
    auth.add_user("root", role="admin")
    return {"Authorization": f"Bearer {auth.login('root')}", "content-type": "application/json"}


def test_an_error_that_echoes_a_lone_surrogate_is_still_the_error_body(auth: AuthApp, root: dict[str, str]) -> None:
    # JSON may carry a lone surrogate (\ud800); echoing it in the error must not fail to encode (a 500).
    response = auth.client.post("/api/v1/keys", content=b'{"username": "\\ud800x"}', headers=root)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["request_id"] == response.headers["X-Request-ID"]
    assert error["details"]["id"] == "\ud800x"  # the JSON escape round-trips


@pytest.mark.parametrize("cursor", ["9223372036854775808", "9999999999999999999"])
def test_an_audit_cursor_past_the_largest_id_is_a_422(auth: AuthApp, root: dict[str, str], cursor: str) -> None:
    response = auth.client.get("/api/v1/audit", params={"cursor": cursor}, headers=root)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == "cursor"


def test_the_largest_audit_cursor_is_a_page(auth: AuthApp, root: dict[str, str]) -> None:
    response = auth.client.get("/api/v1/audit", params={"cursor": "9223372036854775807"}, headers=root)
    assert response.status_code == 200 and response.json()["items"]  # every entry is older than that
