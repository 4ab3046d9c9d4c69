"""``memorylink users`` and ``memorylink keys`` in a subprocess, and the server accepting what they made."""

from __future__ import annotations

import json

from cli_helpers import PASSPHRASE, Cli
from fastapi.testclient import TestClient

from memorylink import MemoryStore
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import Accounts

PASSWORD = "a long account password"


def _app(cli: Cli) -> tuple[MemoryStore, TestClient]:
    store = MemoryStore.open(cli.store, passphrase=PASSPHRASE, create=False)
    return store, TestClient(create_app(store, ServerSettings()))


def test_users_lifecycle(store_cli: Cli) -> None:
    env = {"MEMORYLINK_NEW_PASSWORD": PASSWORD}
    added = store_cli.ok("users", "add", "root", "--admin", env=env)
    assert added.stdout.strip() == "added admin root (acting as user_id root)"
    alice = json.loads(store_cli.ok("users", "add", "alice", "--user-id", "a-1", "--json", env=env).stdout)
    assert (alice["username"], alice["user_id"], alice["role"]) == ("alice", "a-1", "user")
    assert "password_hash" not in alice

    duplicate = store_cli("users", "add", "alice", env=env)
    assert duplicate.returncode == 2 and "exists already" in duplicate.stderr
    short = store_cli("users", "add", "bob", env={"MEMORYLINK_NEW_PASSWORD": "short"})
    assert short.returncode == 2 and "password" in short.stderr
    no_password = store_cli("users", "add", "bob")
    assert no_password.returncode == 2 and "MEMORYLINK_NEW_PASSWORD" in no_password.stderr

    listed = json.loads(store_cli.ok("users", "list", "--json").stdout)
    assert [(u["username"], u["role"]) for u in listed] == [("root", "admin"), ("alice", "user")]
    table = store_cli.ok("users", "list").stdout
    assert "alice" in table and PASSWORD not in table and "scrypt" not in table

    assert store_cli.ok("users", "passwd", "alice", env={"MEMORYLINK_NEW_PASSWORD": "the second password"})
    store, client = _app(store_cli)
    with store:
        refused = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
        assert refused.status_code == 401
        token = client.post("/api/v1/auth/token", data={"username": "alice", "password": "the second password"})
        assert token.status_code == 200
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.json()["user_id"] == "a-1"
        audit = store.app_data.entries("server.auth.audit")
        assert [(a.json()["actor"], a.json()["action"]) for a in audit][:3] == [
            ("cli", "user.added"),
            ("cli", "user.added"),
            ("cli", "user.password_changed"),
        ]

    assert store_cli.ok("users", "remove", "alice").stdout.strip() == "removed alice"
    missing = store_cli("users", "remove", "alice")
    assert missing.returncode == 1
    assert [u["username"] for u in json.loads(store_cli.ok("users", "list", "--json").stdout)] == ["root"]


def test_keys_lifecycle(store_cli: Cli) -> None:
    store_cli.ok("users", "add", "alice", env={"MEMORYLINK_NEW_PASSWORD": PASSWORD})
    printed = store_cli.ok("keys", "create", "--user", "alice", "--scope", "read", "--name", "laptop").stdout
    key = next(line.split(": ", 1)[1] for line in printed.splitlines() if line.startswith("key (shown once)"))
    key_id = key.split("_")[1]
    assert key.startswith(f"mlk_{key_id}_")
    service = json.loads(
        store_cli.ok(
            "keys", "create", "--user-id", "ingest-bot", "--scope", "write", "--expires-days", "30", "--json"
        ).stdout
    )
    assert service["user_id"] == "ingest-bot" and service["username"] is None and service["expires_at"]

    beyond = store_cli("keys", "create", "--user", "alice", "--scope", "admin")
    assert beyond.returncode == 2 and "scope" in beyond.stderr
    both = store_cli("keys", "create", "--user", "alice", "--user-id", "x")
    assert both.returncode == 2
    assert store_cli("keys", "create", "--user", "ghost").returncode == 1

    listed = json.loads(store_cli.ok("keys", "list", "--json").stdout)
    assert {k["id"] for k in listed} == {key_id, service["id"]}
    assert all("key" not in k and "secret_sha256" not in k for k in listed)
    assert [k["id"] for k in json.loads(store_cli.ok("keys", "list", "--user", "alice", "--json").stdout)] == [key_id]
    table = store_cli.ok("keys", "list").stdout
    assert key_id in table and key.split("_", 2)[2] not in table and service["key"] not in table

    store, client = _app(store_cli)
    with store:
        me = client.get("/api/v1/auth/me", headers={"X-API-Key": key})
        assert me.status_code == 200 and me.json()["scopes"] == ["read"] and me.json()["username"] == "alice"
        assert client.post("/api/v1/memories", json={"text": "x"}, headers={"X-API-Key": key}).status_code == 403

    assert store_cli.ok("keys", "revoke", key_id).stdout.strip() == f"revoked {key_id}"
    assert store_cli("keys", "revoke", "nosuchid").returncode == 1
    revoked = {k["id"]: k["revoked_at"] for k in json.loads(store_cli.ok("keys", "list", "--json").stdout)}
    assert revoked[key_id] is not None and revoked[service["id"]] is None
    store, client = _app(store_cli)
    with store:
        assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_the_audit_log_from_the_cli(store_cli: Cli) -> None:
    store_cli.ok("users", "add", "alice", env={"MEMORYLINK_NEW_PASSWORD": PASSWORD})
    key = json.loads(store_cli.ok("keys", "create", "--user", "alice", "--json").stdout)
    store_cli.ok("keys", "revoke", key["id"])
    entries = json.loads(store_cli.ok("audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("cli", "key.revoked", f"key:{key['id']}"),
        ("cli", "key.created", f"key:{key['id']}"),
        ("cli", "user.added", "user:alice"),
    ]
    assert [e["action"] for e in json.loads(store_cli.ok("audit", "-n", "1", "--json").stdout)] == ["key.revoked"]
    table = store_cli.ok("audit").stdout
    assert "key.revoked" in table and key["key"] not in table and PASSWORD not in table


def test_a_revoke_from_the_cli_reaches_a_running_server_at_once(store_cli: Cli) -> None:
    store, client = _app(store_cli)
    with store:
        created = Accounts(store.app_data).create_key(user_id="svc")
        headers = {"X-API-Key": created.key}
        assert client.get("/api/v1/memories", headers=headers).status_code == 200
        store_cli.ok("keys", "revoke", created.id)  # another process, while this one serves
        assert client.get("/api/v1/memories", headers=headers).status_code == 401
        store_cli.ok("users", "add", "late", env={"MEMORYLINK_NEW_PASSWORD": PASSWORD})
        login = client.post("/api/v1/auth/token", data={"username": "late", "password": PASSWORD})
        assert login.status_code == 200
