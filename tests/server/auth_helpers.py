"""Helpers of the auth tests: an app with the real guard over a store, a movable clock, logins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memorylink import MemoryStore
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import AuthSettings, build_guard
from memorylink.server.auth.guard import AuthGuard
from memorylink.server.auth.service import AuthService
from memorylink.server.ratelimit import RateLimitSettings

PASSWORD = "correct horse battery"
GENEROUS = RateLimitSettings(
    reads="10000/minute", writes="10000/minute", searches="10000/minute", batches="10000/minute", logins="10000/minute"
)


class Clock:
    """Seconds since the epoch, moved by hand (expiry without sleeping)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class AuthApp:
    """An app with the real :class:`AuthGuard` and a client for it."""

    app: FastAPI
    client: TestClient
    guard: AuthGuard
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def service(self) -> AuthService:
        return self.guard.service

    def add_user(self, username: str, *, role: str = "user", user_id: str | None = None) -> None:
        self.service.accounts.add_user(username, PASSWORD, role=role, user_id=user_id)  # type: ignore[arg-type]

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        self.tokens[username] = token
        return token

    def key(
        self, *, user_id: str | None = None, username: str | None = None, scopes: tuple[str, ...] = ("read", "write")
    ) -> str:
        created = self.service.accounts.create_key(user_id=user_id, username=username, scopes=scopes)
        return created.key


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def make_auth_app(
    store: MemoryStore,
    *,
    rate_limits: RateLimitSettings = GENEROUS,
    auth: AuthSettings | None = None,
    clock: Clock | None = None,
    private_webhook_urls: Literal["admins", "everyone"] = "everyone",
) -> AuthApp:
    """An app over ``store``; by default users may register webhooks on 127.0.0.1, where tests' receivers are."""
    clock = clock or Clock()
    settings = ServerSettings(
        auth=auth or AuthSettings(), rate_limits=rate_limits, private_webhook_urls=private_webhook_urls
    )
    guard = build_guard(store, settings, clock=clock)  # built here only to inject the clock
    app = create_app(store, settings, guard=guard)
    return AuthApp(app=app, client=TestClient(app), guard=guard, clock=clock)
