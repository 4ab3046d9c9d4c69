"""Authentication over HTTP: credentials, tokens, keys, roles, events and the audit log."""

from __future__ import annotations

import base64
import json

import pytest
from auth_helpers import PASSWORD, AuthApp, bearer, make_auth_app

from memorylink import MemoryStore
from memorylink.events import Event


@pytest.fixture
def auth(store: MemoryStore) -> AuthApp:
    built = make_auth_app(store)
    built.add_user("root", role="admin")
    built.add_user("alice")
    built.add_user("bob")
    return built


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


# -- which paths need credentials ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/memories"),
        ("POST", "/api/v1/memories"),
        ("POST", "/api/v1/memories/search"),
        ("GET", "/api/v1/webhooks"),
        ("GET", "/api/v1/stats"),
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/keys"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/auth/me"),
    ],
)
def test_no_credentials_is_401_with_a_challenge(auth: AuthApp, method: str, path: str) -> None:
    response = auth.client.request(method, path, json={"text": "x", "query": "x"})
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_public_paths_need_no_credentials(auth: AuthApp) -> None:
    assert auth.client.get("/health").status_code == 200
    assert auth.client.get("/openapi.json").status_code == 200
    assert auth.client.get("/docs").status_code == 200
    # The token endpoint answers (here: 422 for a missing form) rather than 401.
    assert auth.client.post("/api/v1/auth/token").status_code == 422


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic YWxpY2U6cHc="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-key-or-token"},
        {"X-API-Key": "mlk_zzzzzzzz_" + "a" * 43},
        {"X-API-Key": "plainpassword"},
        {"Authorization": "Bearer a.b.c"},
    ],
)
def test_bad_credentials_are_401(auth: AuthApp, headers: dict[str, str]) -> None:
    response = auth.client.get("/api/v1/memories", headers=headers)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- the password flow and JWTs --------------------------------------------------------------


def test_login_gives_a_token_that_works(auth: AuthApp) -> None:
    response = auth.client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    me = auth.client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "user_id": "alice",
        "username": "alice",
        "scopes": ["read", "write"],
        "kind": "jwt",
        "key_id": None,
    }
    created = auth.client.post("/api/v1/memories", json={"text": "alice writes"}, headers=bearer(body["access_token"]))
    assert created.status_code == 201 and created.json()["user_id"] == "alice"


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD), ("", "")])
def test_a_bad_login_is_401(auth: AuthApp, username: str, password: str) -> None:
    response = auth.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if username:
        assert_error(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert PASSWORD not in response.text and password not in response.text
    else:
        assert response.status_code in (401, 422)


def test_an_expired_token_is_401(auth: AuthApp) -> None:
    token = auth.login("alice")
    auth.clock.now += 3599
    assert auth.client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    auth.clock.now += 1
    response = auth.client.get("/api/v1/auth/me", headers=bearer(token))
    body = assert_error(response, 401, "unauthenticated")
    assert "expired" in body["message"]


def test_a_tampered_token_is_401(auth: AuthApp) -> None:
    token = auth.login("alice")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scopes"], claims["uid"], claims["sub"] = ["admin", "read", "write"], "bob", "root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{header}.{forged}.{signature}", f"{header}.{payload}.{signature[:-3]}abc"):
        assert_error(auth.client.get("/api/v1/users", headers=bearer(bad)), 401, "unauthenticated")


def test_removing_a_user_voids_its_tokens_and_keys(auth: AuthApp) -> None:
    token = auth.login("bob")
    key = auth.key(username="bob")
    assert auth.client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    assert auth.client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    root = auth.login("root")
    assert auth.client.delete("/api/v1/users/bob", headers=bearer(root)).status_code == 204
    assert_error(auth.client.get("/api/v1/auth/me", headers=bearer(token)), 401, "unauthenticated")
    assert_error(auth.client.get("/api/v1/auth/me", headers={"X-API-Key": key}), 401, "unauthenticated")
    # A new account of the same name does not bring the old token back.
    auth.add_user("bob")
    assert_error(auth.client.get("/api/v1/auth/me", headers=bearer(token)), 401, "unauthenticated")


def test_a_new_password_voids_older_tokens(auth: AuthApp) -> None:
    old = auth.login("alice")
    response = auth.client.post(
        "/api/v1/users/alice/password",
        json={"password": "another long password", "current_password": PASSWORD},
        headers=bearer(old),
    )
    assert response.status_code == 204
    assert_error(auth.client.get("/api/v1/auth/me", headers=bearer(old)), 401, "unauthenticated")
    new = auth.login("alice", "another long password")
    assert auth.client.get("/api/v1/auth/me", headers=bearer(new)).status_code == 200


def test_changing_a_password_needs_the_current_one_unless_admin(auth: AuthApp) -> None:
    alice = auth.login("alice")
    wrong = auth.client.post(
        "/api/v1/users/alice/password", json={"password": "x" * 12, "current_password": "nope"}, headers=bearer(alice)
    )
    assert_error(wrong, 403, "forbidden")
    other = auth.client.post("/api/v1/users/bob/password", json={"password": "x" * 12}, headers=bearer(alice))
    assert_error(other, 403, "forbidden")
    root = auth.login("root")
    assert (
        auth.client.post("/api/v1/users/bob/password", json={"password": "y" * 12}, headers=bearer(root)).status_code
        == 204
    )
    auth.login("bob", "y" * 12)


# -- API keys ------------------------------------------------------------------------------


def test_a_key_works_in_either_header(auth: AuthApp) -> None:
    key = auth.key(user_id="svc", scopes=("read",))
    for headers in ({"X-API-Key": key}, bearer(key)):
        me = auth.client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["kind"] == "api_key" and me.json()["user_id"] == "svc"


def test_a_revoked_key_is_401(auth: AuthApp) -> None:
    key = auth.key(username="alice")
    key_id = key.split("_")[1]
    alice = auth.login("alice")
    assert auth.client.delete(f"/api/v1/keys/{key_id}", headers=bearer(alice)).status_code == 204
    body = assert_error(auth.client.get("/api/v1/memories", headers={"X-API-Key": key}), 401, "unauthenticated")
    assert "revoked" in body["message"]
    listed = auth.client.get("/api/v1/keys", headers=bearer(alice)).json()
    assert [k["revoked_at"] is not None for k in listed if k["id"] == key_id] == [True]


def test_an_expired_key_is_401(auth: AuthApp) -> None:
    created = auth.service.accounts.create_key(user_id="svc", expires_days=1)
    assert auth.client.get("/api/v1/memories", headers={"X-API-Key": created.key}).status_code == 200
    auth.clock.now += 86_400
    assert_error(auth.client.get("/api/v1/memories", headers={"X-API-Key": created.key}), 401, "unauthenticated")


def test_a_read_only_key_cannot_write(auth: AuthApp) -> None:
    key = auth.key(username="alice", scopes=("read",))
    headers = {"X-API-Key": key}
    assert auth.client.get("/api/v1/memories", headers=headers).status_code == 200
    for method, path, body in (
        ("POST", "/api/v1/memories", {"text": "nope"}),
        ("POST", "/api/v1/memories/batch", {"items": ["nope"]}),
        ("POST", "/api/v1/memories/delete", {"filter": {}}),
        ("POST", "/api/v1/webhooks", {"url": "https://example.com/h"}),
        ("POST", "/api/v1/keys", {"scopes": ["read"]}),
    ):
        response = auth.client.request(method, path, json=body, headers=headers)
        error = assert_error(response, 403, "forbidden")
        assert error["details"]["scope"] == "write"
    assert auth.service.store.list(user_id="alice").items == []


def test_users_make_keys_only_for_themselves_and_within_their_scopes(auth: AuthApp) -> None:
    alice = bearer(auth.login("alice"))
    made = auth.client.post("/api/v1/keys", json={"name": "laptop", "scopes": ["read"]}, headers=alice)
    assert made.status_code == 201
    body = made.json()
    assert body["key"].startswith(f"mlk_{body['id']}_") and body["username"] == "alice" and body["scopes"] == ["read"]
    assert body["created_by"] == "user:alice"
    assert made.headers["Cache-Control"] == "no-store"  # the secret is in this answer: no cache keeps it
    assert_error(auth.client.post("/api/v1/keys", json={"scopes": ["admin"]}, headers=alice), 403, "forbidden")
    assert_error(auth.client.post("/api/v1/keys", json={"username": "bob"}, headers=alice), 403, "forbidden")
    assert_error(auth.client.post("/api/v1/keys", json={"user_id": "bob"}, headers=alice), 403, "forbidden")
    # A read-only key of alice's cannot mint a writing one.
    reader = {"X-API-Key": body["key"]}
    assert_error(auth.client.post("/api/v1/keys", json={"scopes": ["read", "write"]}, headers=reader), 403, "forbidden")
    listed = auth.client.get("/api/v1/keys", headers=alice).json()
    assert [k["id"] for k in listed] == [body["id"]] and "key" not in listed[0]
    assert body["key"] not in auth.client.get("/api/v1/keys", headers=alice).text


def test_users_cannot_see_or_revoke_anyone_else_s_keys(auth: AuthApp) -> None:
    bob_key = auth.service.accounts.create_key(username="bob", name="bob's")
    alice = bearer(auth.login("alice"))
    assert_error(auth.client.get(f"/api/v1/keys/{bob_key.id}", headers=alice), 404, "not_found")
    assert_error(auth.client.delete(f"/api/v1/keys/{bob_key.id}", headers=alice), 404, "not_found")
    assert_error(auth.client.get("/api/v1/keys", params={"user_id": "bob"}, headers=alice), 403, "forbidden")
    assert bob_key.id not in auth.client.get("/api/v1/keys", headers=alice).text
    assert auth.service.accounts.key(bob_key.id).revoked_at is None


def test_admins_manage_everyone_s_keys(auth: AuthApp) -> None:
    root = bearer(auth.login("root"))
    for_bob = auth.client.post("/api/v1/keys", json={"username": "bob", "scopes": ["read"]}, headers=root)
    assert for_bob.status_code == 201 and for_bob.json()["user_id"] == "bob"
    service_key = auth.client.post("/api/v1/keys", json={"user_id": "ingest-bot", "scopes": ["write"]}, headers=root)
    assert service_key.status_code == 201 and service_key.json()["username"] is None
    too_much = auth.client.post("/api/v1/keys", json={"username": "bob", "scopes": ["admin"]}, headers=root)
    assert_error(too_much, 422, "validation_error")
    assert {k["user_id"] for k in auth.client.get("/api/v1/keys", headers=root).json()} == {"bob", "ingest-bot"}
    bob_only = auth.client.get("/api/v1/keys", params={"username": "bob"}, headers=root).json()
    assert [k["id"] for k in bob_only] == [for_bob.json()["id"]]
    assert auth.client.delete(f"/api/v1/keys/{for_bob.json()['id']}", headers=root).status_code == 204
    assert_error(auth.client.delete("/api/v1/keys/nosuchid", headers=root), 404, "not_found")


# -- users (admins) --------------------------------------------------------------------------


def test_only_admins_manage_users(auth: AuthApp) -> None:
    alice = bearer(auth.login("alice"))
    root = bearer(auth.login("root"))
    assert_error(auth.client.get("/api/v1/users", headers=alice), 403, "forbidden")
    new = {"username": "carol", "password": PASSWORD}
    assert_error(auth.client.post("/api/v1/users", json=new, headers=alice), 403, "forbidden")
    assert_error(auth.client.delete("/api/v1/users/bob", headers=alice), 403, "forbidden")
    assert_error(auth.client.get("/api/v1/users/bob", headers=alice), 403, "forbidden")
    assert auth.client.get("/api/v1/users/alice", headers=alice).json()["username"] == "alice"

    created = auth.client.post("/api/v1/users", json={**new, "role": "admin", "user_id": "c"}, headers=root)
    assert created.status_code == 201
    assert created.json()["role"] == "admin" and created.json()["user_id"] == "c"
    assert "password_hash" not in created.text and PASSWORD not in created.text
    assert_error(auth.client.post("/api/v1/users", json=new, headers=root), 409, "conflict")
    short = auth.client.post("/api/v1/users", json={"username": "dave", "password": "x"}, headers=root)
    assert_error(short, 422, "validation_error")
    listed = auth.client.get("/api/v1/users", headers=root).json()
    assert [u["username"] for u in listed] == ["root", "alice", "bob", "carol"]
    assert "password_hash" not in auth.client.get("/api/v1/users", headers=root).text
    assert auth.client.delete("/api/v1/users/carol", headers=root).status_code == 204
    assert_error(auth.client.delete("/api/v1/users/carol", headers=root), 404, "not_found")


# -- events and the audit log ----------------------------------------------------------------


def test_logins_emit_auth_login_without_the_password(auth: AuthApp) -> None:
    seen: list[Event] = []
    auth.service.store.events.subscribe(seen.append, types=["auth.*"])
    auth.login("alice")
    auth.client.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong password"})
    assert [(e.type, e.user_id, e.data["outcome"]) for e in seen] == [
        ("auth.login", "alice", "success"),
        ("auth.login", "alice", "failure"),
    ]
    assert all(PASSWORD not in json.dumps(e.data) and "wrong password" not in json.dumps(e.data) for e in seen)
    assert seen[0].request_id is not None


def test_key_use_emits_api_key_used_at_most_once_a_minute(auth: AuthApp) -> None:
    seen: list[Event] = []
    auth.service.store.events.subscribe(seen.append, types=["api_key.used"])
    created = auth.service.accounts.create_key(username="alice", name="laptop")
    for _ in range(3):
        assert auth.client.get("/api/v1/memories", headers={"X-API-Key": created.key}).status_code == 200
    assert [(e.data["key_id"], e.user_id) for e in seen] == [(created.id, "alice")]
    assert auth.service.accounts.key(created.id).last_used_at is not None
    auth.clock.now += 60
    auth.client.get("/api/v1/memories", headers={"X-API-Key": created.key})
    assert len(seen) == 2
    assert created.key not in json.dumps([e.data for e in seen])


def test_the_audit_log_records_auth_and_admin_actions(auth: AuthApp) -> None:
    root = bearer(auth.login("root"))
    auth.client.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong password"})
    key = auth.client.post("/api/v1/keys", json={"username": "bob"}, headers=root).json()
    auth.client.delete(f"/api/v1/keys/{key['id']}", headers=root)
    auth.client.post("/api/v1/users", json={"username": "carol", "password": PASSWORD}, headers=root)
    auth.client.post("/api/v1/users/carol/password", json={"password": "z" * 12}, headers=root)
    auth.client.delete("/api/v1/users/carol", headers=root)
    page = auth.client.get("/api/v1/audit", headers=root)
    assert page.status_code == 200
    entries = page.json()["items"]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("user.removed", "success"),
        ("user.password_changed", "success"),
        ("user.added", "success"),
        ("key.revoked", "success"),
        ("key.created", "success"),
        ("auth.login", "failure"),
        ("auth.login", "success"),
    ]
    assert entries[0]["actor"] == "user:root" and entries[0]["target"] == "user:carol"
    assert entries[3]["target"] == f"key:{key['id']}"
    assert all(e["request_id"] for e in entries)
    text = page.text
    assert PASSWORD not in text and "wrong password" not in text and key["key"] not in text
    first = auth.client.get("/api/v1/audit", params={"limit": 2}, headers=root).json()
    second = auth.client.get("/api/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=root).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in entries[:4]]


def test_admin_webhook_changes_are_audited(auth: AuthApp) -> None:
    root = bearer(auth.login("root"))
    alice = bearer(auth.login("alice"))
    own = auth.client.post("/api/v1/webhooks", json={"url": "https://alice.example.com/h"}, headers=alice)
    assert own.status_code == 201
    made = auth.client.post(
        "/api/v1/webhooks", json={"url": "https://bob.example.com/h", "user_id": "bob"}, headers=root
    ).json()
    assert auth.client.delete(f"/api/v1/webhooks/{made['id']}", headers=root).status_code == 204
    entries = auth.client.get("/api/v1/audit", headers=root).json()["items"]
    webhook_entries = [
        (e["action"], e["actor"], e["target"], e["details"]) for e in entries if "webhook" in e["action"]
    ]
    assert webhook_entries == [
        ("webhook.removed", "user:root", f"webhook:{made['id']}", {"user_id": "bob"}),
        ("webhook.created", "user:root", f"webhook:{made['id']}", {"user_id": "bob"}),
    ]


def test_users_may_not_read_the_audit_log(auth: AuthApp) -> None:
    alice = bearer(auth.login("alice"))
    assert_error(auth.client.get("/api/v1/audit", headers=alice), 403, "forbidden")
    key = auth.key(user_id="svc", scopes=("read", "write"))
    assert_error(auth.client.get("/api/v1/audit", headers={"X-API-Key": key}), 403, "forbidden")
