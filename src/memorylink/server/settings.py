"""``ServerSettings``: everything ``create_app`` and ``memorylink serve`` can be told.

The library reads no environment; ``memorylink serve`` builds these from its options and
``MEMORYLINK_*`` variables and passes them in.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memorylink.server.auth.settings import AuthSettings
from memorylink.server.ratelimit import RateLimitSettings
from memorylink.server.streams.settings import StreamSettings

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerSettings", "is_loopback"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A request body larger than this (1 MiB) is refused with 413 ``payload_too_large``."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        loopback: bool = ipaddress.ip_address(host.strip("[]")).is_loopback
        return loopback
    except ValueError:
        return False  # any other name may resolve to an address other machines reach


class ServerSettings(BaseModel):
    """How the REST server behaves. Every field has a safe default (auth on, CORS off, loopback).

    ``no_auth`` is refused unless ``host`` is a loopback address: a server without credentials
    must not be reachable from other machines.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", min_length=1, description="address `memorylink serve` binds")
    port: int = Field(8080, ge=0, le=65535, description="port `memorylink serve` binds (0: any free port)")
    no_auth: bool = Field(
        False,
        description="serve without credentials, every caller an admin acting as no_auth_user_id (loopback only)",
    )
    no_auth_user_id: str = Field(
        "default", min_length=1, max_length=128, description="the user a --no-auth caller acts as"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed to call the API from a browser (CORS); none by default"
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1, description="largest request body accepted; larger ones get 413"
    )
    metrics_public: bool = Field(False, description="serve /metrics without credentials (else admins only)")
    private_webhook_urls: Literal["admins", "everyone"] = Field(
        "admins",
        description="who may point a webhook at a loopback, private or link-local address: admins only "
        "(the default; other users could probe the server's own network through it) or everyone",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, description="token lifetime, password and key rules")
    rate_limits: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="per-caller budgets for reads, writes, searches and batches"
    )
    streams: StreamSettings = Field(
        default_factory=StreamSettings, description="the event streams (SSE and WebSocket): caps, rates, heartbeats"
    )

    @model_validator(mode="after")
    def _no_auth_only_on_loopback(self) -> ServerSettings:
        if self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"no_auth serves every caller as an admin, so it is refused on {self.host!r}, which other "
                "machines can reach; bind a loopback address such as 127.0.0.1, or turn authentication on"
            )
        return self
