"""Review finding: /health/ready answers anyone, so without admin credentials it tells nothing of the store's size."""

from __future__ import annotations

from pathlib import Path

from auth_helpers import AuthApp, bearer, make_auth_app

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder


def _open(path: Path) -> MemoryStore:
    # No delivery worker: events to the endpoint stay owed, so the outbox has a backlog.
    settings = Settings(events=EventSettings(deliver=False))
    return MemoryStore.open(path, key=bytes(range(32)), embedder=HashingEmbedder(), settings=settings)


def _ready(app: AuthApp, headers: dict[str, str] | None = None) -> dict[str, object]:
    response = app.client.get("/health/ready", headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_readiness_without_admin_credentials_is_the_same_whatever_the_store_holds(tmp_path: Path) -> None:
    with _open(tmp_path / "empty") as empty, _open(tmp_path / "full") as full:
        quiet, busy = make_auth_app(empty), make_auth_app(full)
        full.webhooks.add("https://bob.example.com/hook", user_id="bob")
        for number in range(7):
            full.add(f"bob's note {number}", user_id="bob")
        busy.add_user("alice")
        busy.add_user("root", role="admin")
        assert full.stats().memories == 7 and full.stats().outbox_backlog == 7
        alice = bearer(busy.login("alice"))
        assert _ready(busy) == _ready(quiet)
        assert _ready(busy, alice) == _ready(quiet)  # a user's credential learns no more
        assert _ready(busy, {"X-API-Key": "mlk_zzzzzzzz_" + "a" * 43}) == _ready(quiet)  # nor a bad one (no 401)
        # Admins (who read the same figures on /metrics) get the counts.
        admin = _ready(busy, bearer(busy.login("root")))
        components = admin["components"]
        assert isinstance(components, dict)
        assert components["storage"]["detail"].startswith("7 memories")
        assert components["index"]["detail"] == "7 entries for 7 memories"
        owed = components["outbox"]["detail"]
        assert owed.endswith(" deliveries owed") and int(owed.split()[0]) >= 7


def test_a_degraded_store_is_503_for_anyone(tmp_path: Path) -> None:
    with _open(tmp_path / "s") as store:
        app = make_auth_app(store)
        store.add("one", user_id="bob")
        store.close()
        response = app.client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert response.json()["error"]["details"]["failing"] == ["embedder", "index", "outbox", "storage"]
