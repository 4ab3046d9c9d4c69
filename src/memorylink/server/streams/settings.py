"""``StreamSettings``: the limits and timings of ``/api/v1/events`` (SSE) and ``/api/v1/ws`` (WebSocket)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["StreamSettings"]


class StreamSettings(BaseModel):
    """How the event streams behave. ``ServerSettings.streams`` holds one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sse_ping_interval_s: float = Field(
        15.0, gt=0, le=3600, description="an SSE comment line is sent this often so proxies keep the stream open"
    )
    sse_retry_ms: int = Field(
        2000, ge=0, le=600_000, description="the reconnection delay an SSE stream advises (its `retry:` field)"
    )
    poll_interval_s: float = Field(
        0.5, gt=0, le=60, description="how often a stream looks for events committed by other processes"
    )
    send_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="a stream whose client takes longer than this to accept one message is closed"
    )
    ws_max_connections: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="WebSocket connections open at once, server-wide; more are closed with 1013",
    )
    ws_message_rate: str = Field(
        "20/second",
        description="messages a WebSocket client may send (a `limits` rate such as '20/second'); pongs are free",
    )
    ws_max_subscriptions: int = Field(32, ge=1, le=1024, description="subscriptions one WebSocket connection may hold")
    ws_max_message_bytes: int = Field(
        16 * 1024, ge=256, le=1024 * 1024, description="largest client message; a larger one closes with 1009"
    )
    ws_heartbeat_interval_s: float = Field(
        20.0, gt=0, le=3600, description="the server sends {'type': 'ping'} this often"
    )
    ws_heartbeat_timeout_s: float = Field(
        20.0, gt=0, le=3600, description="a client that sends nothing for this long after a ping is closed (1011)"
    )
    reauth_interval_s: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="an open stream checks its credential again this often; a revoked key or expired token ends it",
    )
    ws_auth_timeout_s: float = Field(
        10.0, gt=0, le=600, description="a client without credential headers must send its auth message within this"
    )

    @field_validator("ws_message_rate")
    @classmethod
    def _parse_rate(cls, value: str) -> str:
        from memorylink.server.ratelimit import check_rate

        return check_rate(value, f"ws_message_rate must be a rate such as '20/second', not {value!r}")
