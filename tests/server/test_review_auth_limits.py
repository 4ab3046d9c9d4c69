"""Review findings: budgets belong to a user, not to each of its credentials; a key cannot outlive its maker."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from auth_helpers import AuthApp, bearer, make_auth_app
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink import MemoryStore
from memorylink.server.principal import Principal
from memorylink.server.ratelimit import RateLimiter, RateLimitSettings

SMALL = RateLimitSettings(reads="50/minute", writes="4/minute", searches="2/minute", batches="1/minute")


@pytest.fixture
def limited(store: MemoryStore) -> AuthApp:
    app = make_auth_app(store, rate_limits=SMALL)
    app.add_user("alice")
    app.add_user("bob")
    return app


def _write(app: AuthApp, headers: dict[str, str]) -> int:
    return app.client.post("/api/v1/memories", json={"text": "a note"}, headers=headers).status_code


def test_a_key_a_user_mints_for_itself_shares_its_budget(limited: AuthApp) -> None:
    alice = bearer(limited.login("alice"))
    minted = limited.client.post("/api/v1/keys", json={"name": "second"}, headers=alice)  # one write
    assert minted.status_code == 201
    second = {"X-API-Key": minted.json()["key"]}
    assert [_write(limited, alice) for _ in range(3)] == [201, 201, 201]
    # The budget is spent; a fresh credential of the same user does not refill it.
    assert _write(limited, second) == 429
    assert _write(limited, {"X-API-Key": limited.key(username="alice")}) == 429
    # Another user is untouched.
    assert _write(limited, bearer(limited.login("bob"))) == 201


def test_keys_without_an_account_share_their_user_s_budget(limited: AuthApp) -> None:
    first = {"X-API-Key": limited.key(user_id="ingest-bot")}
    minted = limited.client.post("/api/v1/keys", json={"scopes": ["read", "write"]}, headers=first)
    assert minted.status_code == 201 and minted.json()["user_id"] == "ingest-bot"
    second = {"X-API-Key": minted.json()["key"]}
    assert [_write(limited, first) for _ in range(3)] == [201, 201, 201]
    assert _write(limited, second) == 429
    searches = [
        limited.client.post("/api/v1/memories/search", json={"query": "x"}, headers=headers).status_code
        for headers in (first, second, first)
    ]
    assert searches == [200, 200, 429]


def test_a_key_may_not_outlive_the_key_that_makes_it(limited: AuthApp) -> None:
    parent = limited.service.accounts.create_key(user_id="contractor", expires_days=7)
    headers = {"X-API-Key": parent.key}
    assert parent.expires_at is not None
    # No expiry asked: the new key ends when its maker does.
    inherited = limited.client.post("/api/v1/keys", json={"name": "child"}, headers=headers)
    assert inherited.status_code == 201, inherited.text
    assert datetime.fromisoformat(inherited.json()["expires_at"]) == parent.expires_at
    # A shorter life is fine; a longer one is refused, naming the field.
    shorter = limited.client.post("/api/v1/keys", json={"expires_days": 1}, headers=headers)
    assert shorter.status_code == 201
    assert datetime.fromisoformat(shorter.json()["expires_at"]) == parent.expires_at - timedelta(days=6)
    longer = limited.client.post("/api/v1/keys", json={"expires_days": 30}, headers=headers)
    assert longer.status_code == 422, longer.text
    assert longer.json()["error"]["details"]["field"] == "expires_days"
    # Once the maker expired, so did every key it made.
    limited.clock.now += 7 * 86_400
    assert limited.client.get("/api/v1/memories", headers={"X-API-Key": inherited.json()["key"]}).status_code == 401


def test_tokens_and_admins_mint_keys_of_any_lifetime(limited: AuthApp) -> None:
    alice = bearer(limited.login("alice"))
    forever = limited.client.post("/api/v1/keys", json={}, headers=alice)
    assert forever.status_code == 201 and forever.json()["expires_at"] is None
    admin_key = limited.service.accounts.create_key(user_id="ops", scopes=["admin"], expires_days=1)
    made = limited.client.post("/api/v1/keys", json={"user_id": "svc"}, headers={"X-API-Key": admin_key.key})
    assert made.status_code == 201 and made.json()["expires_at"] is None


def test_who_am_i_needs_the_read_scope_as_documented(limited: AuthApp) -> None:
    writer = {"X-API-Key": limited.key(user_id="ingest-bot", scopes=("write",))}
    reader = {"X-API-Key": limited.key(user_id="ingest-bot", scopes=("read",))}
    refused = limited.client.get("/api/v1/auth/me", headers=writer)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["scope"] == "read"
    me = limited.client.get("/api/v1/auth/me", headers=reader)
    assert me.status_code == 200 and me.json()["user_id"] == "ingest-bot" and me.json()["scopes"] == ["read"]


def test_guessing_the_current_password_spends_the_logins_budget(store: MemoryStore) -> None:
    app = make_auth_app(store, rate_limits=RateLimitSettings(logins="3/minute"))
    app.add_user("alice")
    alice = {"X-API-Key": app.key(username="alice")}  # a stolen key must not be a fast password oracle
    app.login("alice")  # one login spends one of the three

    def guess(password: str) -> int:
        body = {"password": "a brand new password", "current_password": password}
        return app.client.post("/api/v1/users/alice/password", json=body, headers=alice).status_code

    assert [guess("guess one"), guess("guess two"), guess("guess three")] == [403, 403, 429]
    refused = app.client.post("/api/v1/auth/token", data={"username": "alice", "password": "guess four"})
    assert refused.status_code == 429 and refused.json()["error"]["details"]["budget"] == "logins"


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=8),
    calls=st.lists(
        st.tuples(st.sampled_from(["alice", "bob"]), st.sampled_from(["jwt", "key1", "key2", "bare"])), max_size=40
    ),
)
def test_whichever_credential_a_user_sends_it_gets_exactly_its_budget(limit: int, calls: list[tuple[str, str]]) -> None:
    limiter = RateLimiter(RateLimitSettings(writes=f"{limit}/hour"))

    def principal(user: str, credential: str) -> Principal:
        if credential == "jwt":
            return Principal(user_id=user, scopes=frozenset({"read", "write"}), kind="jwt", username=user)
        username = None if credential == "bare" else user
        return Principal(
            user_id=user, scopes=frozenset({"write"}), kind="api_key", key_id=f"{user}{credential}", username=username
        )

    allowed = {"alice": 0, "bob": 0}
    for user, credential in calls:
        allowed[user] += int(limiter.hit("writes", principal(user, credential).rate_key).allowed)
    for user in allowed:
        assert allowed[user] == min(limit, sum(1 for who, _ in calls if who == user))
