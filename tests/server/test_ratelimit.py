"""Rate limits: separate budgets per caller, 429 with Retry-After and RateLimit-* headers."""

from __future__ import annotations

import pytest
from auth_helpers import GENEROUS, AuthApp, bearer, make_auth_app
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from memorylink import MemoryStore
from memorylink.server.ratelimit import DEFAULT_LIMITS, RateLimiter, RateLimitSettings

SMALL = RateLimitSettings(
    reads="3/minute", writes="2/minute", searches="2/minute", batches="1/minute", logins="2/minute"
)


@pytest.fixture
def limited(store: MemoryStore) -> AuthApp:
    return make_auth_app(store, rate_limits=SMALL)


def _key(app: AuthApp, user_id: str = "alice") -> dict[str, str]:
    return {"X-API-Key": app.key(user_id=user_id)}


def test_the_request_after_the_budget_is_429_with_headers(limited: AuthApp) -> None:
    headers = _key(limited)
    answers = [limited.client.get("/api/v1/memories", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {"3"}
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert 0 <= int(refused.headers["RateLimit-Reset"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == {"budget": "reads", "limit": 3, "retry_after": int(refused.headers["Retry-After"])}
    assert error["request_id"] == refused.headers["X-Request-ID"]


def test_budgets_are_separate(limited: AuthApp) -> None:
    headers = _key(limited)
    searches = [limited.client.post("/api/v1/memories/search", json={"query": "x"}, headers=headers) for _ in range(3)]
    assert [s.status_code for s in searches] == [200, 200, 429]
    assert searches[-1].json()["error"]["details"]["budget"] == "searches"
    # Spending the searches blocks neither writes nor reads nor batches.
    assert limited.client.post("/api/v1/memories", json={"text": "still writing"}, headers=headers).status_code == 201
    assert limited.client.get("/api/v1/memories", headers=headers).status_code == 200
    assert limited.client.post("/api/v1/memories/batch", json={"items": ["one"]}, headers=headers).status_code == 200
    batch = limited.client.post("/api/v1/memories/batch", json={"items": ["two"]}, headers=headers)
    assert batch.status_code == 429 and batch.json()["error"]["details"]["budget"] == "batches"


def test_budgets_are_per_user(limited: AuthApp) -> None:
    first, second, other = _key(limited), _key(limited), _key(limited, "bob")
    for _ in range(2):
        assert limited.client.post("/api/v1/memories", json={"text": "a"}, headers=first).status_code == 201
    assert limited.client.post("/api/v1/memories", json={"text": "a"}, headers=first).status_code == 429
    # Another key of the same user shares the spent budget; another user has its own.
    assert limited.client.post("/api/v1/memories", json={"text": "b"}, headers=second).status_code == 429
    assert limited.client.post("/api/v1/memories", json={"text": "b"}, headers=other).status_code == 201


def test_a_refused_request_does_nothing(limited: AuthApp, store: MemoryStore) -> None:
    headers = _key(limited)
    for number in range(3):
        limited.client.post("/api/v1/memories", json={"text": f"memory {number}"}, headers=headers)
    assert sorted(m.text for m in store.list(user_id="alice").items) == ["memory 0", "memory 1"]


def test_a_user_s_tokens_share_one_budget(limited: AuthApp) -> None:
    limited.add_user("carol")
    limits = RateLimitSettings(**{**SMALL.model_dump(), "logins": "10/minute"})
    roomy = make_auth_app(limited.service.store, rate_limits=limits, clock=limited.clock)
    first, second = roomy.login("carol"), roomy.login("carol")
    for token in (first, second):
        assert roomy.client.post("/api/v1/memories", json={"text": "c"}, headers=bearer(token)).status_code == 201
    assert roomy.client.post("/api/v1/memories", json={"text": "c"}, headers=bearer(first)).status_code == 429


def test_logins_have_their_own_budget(limited: AuthApp) -> None:
    limited.add_user("carol")
    tries = [
        limited.client.post("/api/v1/auth/token", data={"username": "carol", "password": "wrong password"})
        for _ in range(3)
    ]
    assert [t.status_code for t in tries] == [401, 401, 429]
    assert tries[-1].json()["error"]["details"]["budget"] == "logins"
    assert "Retry-After" in tries[-1].headers


def test_disabled_limits_count_nothing(store: MemoryStore) -> None:
    off = make_auth_app(store, rate_limits=RateLimitSettings(enabled=False, reads="1/minute"))
    headers = {"X-API-Key": off.key(user_id="alice")}
    assert [off.client.get("/api/v1/memories", headers=headers).status_code for _ in range(3)] == [200] * 3


def test_generous_limits_leave_headers_on_success(store: MemoryStore) -> None:
    app = make_auth_app(store, rate_limits=GENEROUS)
    response = app.client.get("/api/v1/memories", headers={"X-API-Key": app.key(user_id="alice")})
    assert response.headers["RateLimit-Limit"] == "10000"
    assert response.headers["RateLimit-Remaining"] == "9999"


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window", "sliding-window-counter"])
def test_every_strategy_refuses_the_extra_request(strategy: str) -> None:
    limiter = RateLimiter(RateLimitSettings(strategy=strategy, writes="2/hour"))  # type: ignore[arg-type]
    assert [limiter.hit("writes", "key:a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("writes", "key:b").allowed
    assert limiter.hit("reads", "key:a").allowed
    limiter.reset()
    assert limiter.hit("writes", "key:a").allowed


def test_bad_rates_are_refused_naming_the_budget() -> None:
    with pytest.raises(PydanticValidationError) as caught:
        RateLimitSettings(searches="lots")
    assert caught.value.errors()[0]["loc"] == ("searches",)


def test_the_defaults_are_the_documented_ones() -> None:
    defaults = RateLimitSettings()
    assert {name: getattr(defaults, name) for name in DEFAULT_LIMITS} == DEFAULT_LIMITS
    assert defaults.strategy == "moving-window" and defaults.enabled


@settings(max_examples=30, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=20),
    calls=st.lists(st.sampled_from(["key:a", "key:b", "key:c"]), max_size=60),
)
def test_each_caller_gets_exactly_its_budget(limit: int, calls: list[str]) -> None:
    limiter = RateLimiter(RateLimitSettings(writes=f"{limit}/hour"))
    allowed: dict[str, int] = {}
    for caller in calls:
        state = limiter.hit("writes", caller)
        allowed[caller] = allowed.get(caller, 0) + int(state.allowed)
        assert state.remaining == max(0, limit - allowed[caller])
    for caller in set(calls):
        assert allowed[caller] == min(limit, calls.count(caller))
