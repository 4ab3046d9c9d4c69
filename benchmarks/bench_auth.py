"""What authentication costs a request: the REST server's guard with an API key, a JWT, and no auth.

The app runs in-process (httpx over the ASGI transport, so no socket noise) on a store
with the hashing embedder, and every request is ``GET /api/v1/auth/me``: the route does
nothing but return the caller, so its latency is the middleware, the guard and the rate
limiter. The three are timed in interleaved rounds. Beside them: one password login
(scrypt, n=2**14), and ``RateLimiter.hit`` alone.
Target: an API key or a JWT adds at most 1 ms (p50) to a request over the --no-auth app.

    python benchmarks/bench_auth.py [--quick]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from common import parse_args, print_table, summary, verdict, write_results
from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import Accounts
from memorylink.server.ratelimit import RateLimiter, RateLimitSettings

TARGET_OVERHEAD_MS = 1.0
PASSWORD = "a long benchmark password"
ROOMY = RateLimitSettings(reads="10000000/minute", logins="10000/minute")


async def interleaved(cases: dict[str, tuple[Any, dict[str, str]]], count: int) -> dict[str, list[float]]:
    """``count`` rounds of one request per case, in rotating order, so machine noise hits every case alike."""
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        for name, (app, _) in cases.items()
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    try:
        for round_ in range(-50, count):  # 50 warm-up rounds: imports, caches, first SQLite pages
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                headers = cases[name][1]
                started = time.perf_counter()
                response = await clients[name].get("/api/v1/auth/me", headers=headers)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                if round_ >= 0:
                    times[name].append(elapsed)
    finally:
        for client in clients.values():
            await client.aclose()
    return times


async def login_times(app: Any, count: int) -> list[float]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        times: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            response = await client.post("/api/v1/auth/token", data={"username": "bench", "password": PASSWORD})
            times.append(time.perf_counter() - started)
            response.raise_for_status()
        return times


def main() -> None:
    args = parse_args(__doc__ or "")
    count = 300 if args.quick else 3000
    logins = 5 if args.quick else 30
    results: dict[str, Any] = {}
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        accounts = Accounts(store.app_data)
        accounts.add_user("bench", PASSWORD)
        key = accounts.create_key(username="bench").key
        authed = create_app(store, ServerSettings(rate_limits=ROOMY))
        open_app = create_app(store, ServerSettings(no_auth=True))

        async def run() -> dict[str, list[float]]:
            transport = httpx.ASGITransport(app=authed)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                token = (
                    await client.post("/api/v1/auth/token", data={"username": "bench", "password": PASSWORD})
                ).json()["access_token"]
            cases = {
                "no auth": (open_app, {}),
                "API key": (authed, {"X-API-Key": key}),
                "JWT": (authed, {"Authorization": f"Bearer {token}"}),
            }
            return {**await interleaved(cases, count), "password login": await login_times(authed, logins)}

        measured = asyncio.run(run())

    limiter = RateLimiter(RateLimitSettings(reads="100000000/minute"))
    hits = 20_000 if not args.quick else 2_000
    started = time.perf_counter()
    for number in range(hits):
        limiter.hit("reads", f"key:{number % 100}")
    per_hit_us = (time.perf_counter() - started) / hits * 1e6

    base = summary(measured["no auth"])["p50_ms"]
    rows = []
    for name, times in measured.items():
        stats = summary(times)
        overhead = stats["p50_ms"] - base if name in ("API key", "JWT") else float("nan")
        rows.append(
            [name, stats["n"], stats["p50_ms"], stats["p90_ms"], overhead, verdict(overhead, TARGET_OVERHEAD_MS)]
        )
        results[name] = {**stats, "overhead_p50_ms": overhead}
    print_table(
        "GET /api/v1/auth/me in-process (ms)",
        ["credential", "n", "p50", "p90", "p50 over no auth", f"<= {TARGET_OVERHEAD_MS} ms"],
        rows,
    )
    print_table("RateLimiter.hit (moving window, 100 callers)", ["hits", "us per hit"], [[hits, per_hit_us]])
    results["rate_limiter_hit_us"] = per_hit_us
    write_results("auth", args, results)


if __name__ == "__main__":
    main()
