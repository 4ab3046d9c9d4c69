"""Review: no log record of an auth flow holds a password, a key, a token or memory text (docs/server.md)."""

from __future__ import annotations

import logging

import pytest
from auth_helpers import PASSWORD, bearer, make_auth_app

from memorylink import MemoryStore

TEXT = "zebrasecret memory text about a hidden lane"


def test_nothing_secret_reaches_the_logs(store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    app = make_auth_app(store)
    app.add_user("alice")
    app.add_user("root", role="admin")
    with caplog.at_level(logging.DEBUG):
        token = app.login("alice")
        wrong = app.client.post("/api/v1/auth/token", data={"username": "alice", "password": "wrong-pass-123"})
        assert wrong.status_code == 401
        made = app.client.post("/api/v1/keys", json={"name": "laptop"}, headers=bearer(token)).json()
        key = made["key"]
        headers = {"X-API-Key": key}
        assert app.client.post("/api/v1/memories", json={"text": TEXT}, headers=headers).status_code == 201
        assert app.client.post("/api/v1/memories/search", json={"query": TEXT}, headers=headers).status_code == 200
        forged = key[:-4] + "AAAA"
        assert app.client.get("/api/v1/memories", headers={"X-API-Key": forged}).status_code == 401
        assert app.client.get("/api/v1/memories", headers=bearer(token + "x")).status_code == 401
        change = {"password": "new-password-456", "current_password": PASSWORD}
        assert app.client.post("/api/v1/users/alice/password", json=change, headers=bearer(token)).status_code == 204
        assert app.client.delete(f"/api/v1/keys/{made['id']}", headers=bearer(app.login("root"))).status_code == 204
        assert app.client.get("/api/v1/memories", headers=headers).status_code == 401
    assert len(caplog.records) > 10  # the request lines, at least
    logged = "\n".join(f"{record.getMessage()} {record.__dict__} {record.exc_text or ''}" for record in caplog.records)
    secret = key.split("_", 2)[2]
    for value in (PASSWORD, "wrong-pass-123", "new-password-456", secret, forged, token, TEXT[:11], "zebrasecret"):
        assert value not in logged, value
