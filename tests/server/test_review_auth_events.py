"""Review: the documented scope of auth.login events for names no account has (none), shown by a test."""

from __future__ import annotations

from auth_helpers import make_auth_app

from memorylink import MemoryStore
from memorylink.events import Event


def test_a_login_for_an_unknown_name_is_an_event_in_no_user_s_scope(store: MemoryStore) -> None:
    app = make_auth_app(store)
    app.add_user("alice")
    seen: list[Event] = []
    store.events.subscribe(seen.append, types=["auth.login"])
    for username in ("mallory", "alice"):
        response = app.client.post("/api/v1/auth/token", data={"username": username, "password": "not it at all"})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "wrong username or password"  # the same for both
    assert [(e.user_id, e.data) for e in seen] == [
        (None, {"username": "mallory", "outcome": "failure", "method": "password"}),
        ("alice", {"username": "alice", "outcome": "failure", "method": "password"}),
    ]
