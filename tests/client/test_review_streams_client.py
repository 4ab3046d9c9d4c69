"""The client's WebSocket, found in review: a resume from a pruned event, and close() while reconnecting."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.client._events import AsyncRemoteEvents, EventSocket, Reconnect, RemoteEvents
from memorylink.client._ws import _SocketClosedError
from memorylink.errors import NotFoundError, ValidationError
from stream_helpers import ADMIN_KEY, WAIT_S, CuttingProxy, Live, serving, stream_app, wait_until

FAST = Reconnect(initial_delay_s=0.01, max_delay_s=0.05)
SLOW = Reconnect(initial_delay_s=120.0, max_delay_s=120.0)
"""A backoff (60 to 120 s) far longer than any wait in these tests: only close() can end it in time."""
# Outbox pruning on demand: the worker does not run by itself, each run_once() keeps the newest two.
PRUNED = Settings(events=EventSettings(outbox="always", deliver=False, retention_max_events=2, prune_interval_s=1e-6))


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=PRUNED)


@pytest.fixture
def live(store: MemoryStore) -> Iterator[Live]:
    with serving(stream_app(store, poll_interval_s=0.05)) as running:
        yield running


@pytest.fixture
def http(proxy: CuttingProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, headers={"X-API-Key": ADMIN_KEY}, timeout=WAIT_S) as client:
        yield client


class Reader:
    """Iterates a socket in a thread; keeps what it got and how the iteration ended."""

    def __init__(self, socket: EventSocket) -> None:
        self.socket = socket
        self.got: list[Any] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.socket:
                self.got.append(item)
        except BaseException as error:  # the test looks at it
            self.error = error
        finally:
            self.done.set()


def outbox_ids(store: MemoryStore) -> list[str]:
    return [event.id for event in store.events.feed()]


def test_a_websocket_resuming_after_a_pruned_event_raises_not_found(
    store: MemoryStore, proxy: CuttingProxy, http: httpx.Client
) -> None:
    socket = RemoteEvents(http, reconnect=FAST).websocket()
    socket.subscribe("all")
    first = store.add("seen before the cut")
    reader = Reader(socket)
    wait_until(lambda: len(reader.got) == 1, "the first event")
    proxy.cut(pause=True)
    for n in range(3):
        store.add(f"while away {n}")
    store._delivery.run_once()  # the outbox keeps the newest two: the event the socket holds is gone
    assert first.id and reader.got[0].event.id not in outbox_ids(store)
    proxy.resume()
    # Told, as the SSE feed is: the events after its position are gone, so it cannot resume.
    assert reader.done.wait(WAIT_S), "the socket went on silently after its resume failed"
    assert isinstance(reader.error, NotFoundError), reader.error
    # Iterating again goes on from where the new connection's subscriptions started.
    again = Reader(socket)
    later = store.add("after the failed resume")
    wait_until(lambda: len(again.got) == 1 or again.done.is_set(), "an event after the failed resume")
    assert again.error is None and again.got[0].event.data["id"] == later.id
    assert socket.last_event_id == again.got[0].event.id
    socket.close()
    assert again.done.wait(WAIT_S)


def test_a_websocket_with_a_kept_position_still_resumes(
    store: MemoryStore, proxy: CuttingProxy, http: httpx.Client
) -> None:
    socket = RemoteEvents(http, reconnect=FAST).websocket()
    socket.subscribe("all")
    store.add("seen before the cut")
    reader = Reader(socket)
    wait_until(lambda: len(reader.got) == 1, "the first event")
    proxy.cut(pause=True)
    store.add("while away")
    store._delivery.run_once()  # two kept: the held event and the new one
    proxy.resume()
    wait_until(lambda: len(reader.got) == 2 or reader.done.is_set(), "the event written while away")
    assert [item.event.id for item in reader.got] == outbox_ids(store)
    socket.close()
    assert reader.done.wait(WAIT_S) and reader.error is None


def test_a_websocket_survives_many_failed_reconnect_attempts(
    store: MemoryStore, proxy: CuttingProxy, http: httpx.Client
) -> None:
    # The paused proxy takes each attempt's TCP connection and closes it: the handshake fails
    # in whichever way the timing gives (no HTTP answer, or the connection closed under it).
    socket = RemoteEvents(http, reconnect=FAST).websocket()
    socket.subscribe("all")
    reader = Reader(socket)
    proxy.cut(pause=True)
    wait_until(lambda: socket._core.failures >= 20 or reader.done.is_set(), "twenty failed attempts")
    assert reader.error is None, reader.error
    proxy.resume()
    created = store.add("after the outage")
    wait_until(lambda: len(reader.got) == 1 or reader.done.is_set(), "the event written after the outage")
    assert reader.error is None, reader.error
    assert reader.got[0].event.data["id"] == created.id
    socket.close()
    assert reader.done.wait(WAIT_S)


def test_async_websocket_survives_many_failed_reconnect_attempts(store: MemoryStore, proxy: CuttingProxy) -> None:
    async def main() -> str:
        async with httpx.AsyncClient(base_url=proxy.url, headers={"X-API-Key": ADMIN_KEY}) as client:
            socket = AsyncRemoteEvents(client, reconnect=FAST).websocket()
            await socket.subscribe("all")
            proxy.cut(pause=True)

            def resume_after_twenty_failures() -> None:
                wait_until(lambda: socket._core.failures >= 20, "twenty failed attempts")
                proxy.resume()

            resumer = threading.Thread(target=resume_after_twenty_failures, daemon=True)
            resumer.start()
            with anyio.fail_after(WAIT_S):
                await socket.ping()  # reconnects, failing until the proxy lets it through
            resumer.join(WAIT_S)
            created = await anyio.to_thread.run_sync(store.add, "after the outage")
            with anyio.fail_after(WAIT_S):
                received = await socket.__anext__()
            await socket.aclose()
            assert received.event.data["id"] == created.id
            return "ok"

    assert anyio.run(main) == "ok"


def test_close_while_reconnecting_ends_the_iteration_quietly(
    store: MemoryStore, proxy: CuttingProxy, http: httpx.Client
) -> None:
    socket = RemoteEvents(http, reconnect=FAST).websocket()
    socket.subscribe("all")
    reader = Reader(socket)
    proxy.cut(pause=True)  # every reconnect attempt now fails
    wait_until(lambda: socket._core.failures >= 3, "reconnect attempts")
    socket.close()
    assert reader.done.wait(WAIT_S), "close() did not end the iteration"
    assert reader.error is None, reader.error


@pytest.mark.parametrize("phase", ["dropped", "connecting"])
def test_async_aclose_while_backing_off_ends_the_iteration_at_once(
    store: MemoryStore, proxy: CuttingProxy, phase: str
) -> None:
    async def main() -> BaseException | None:
        async with httpx.AsyncClient(base_url=proxy.url, headers={"X-API-Key": ADMIN_KEY}) as client:
            # "connecting": a short wait after the drop, then 50 to 100 s after the first failed attempt.
            reconnect = SLOW if phase == "dropped" else Reconnect(0.01, max_delay_s=120.0, multiplier=10_000.0)
            socket = AsyncRemoteEvents(client, reconnect=reconnect).websocket()
            await socket.subscribe("all")
            outcome: list[BaseException | None] = []

            async def consume() -> None:
                try:
                    async for _ in socket:
                        pass
                    outcome.append(None)
                except Exception as error:  # the test looks at it
                    outcome.append(error)

            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                proxy.cut(pause=True)
                # "dropped": in the wait after the drop; "connecting": in the wait after a failed attempt.
                failures = 1 if phase == "dropped" else 2
                await anyio.to_thread.run_sync(
                    wait_until, lambda: socket._core.failures >= failures, "the socket to back off"
                )
                with anyio.fail_after(WAIT_S):  # the backoff itself would take a minute or more
                    await socket.aclose()
                    while not outcome:
                        await anyio.sleep(0.005)
            return outcome[0]

    assert anyio.run(main) is None


def test_a_subscription_over_the_server_s_message_limit_raises_instead_of_reconnecting_forever(
    open_store: Callable[..., MemoryStore],
) -> None:
    store = open_store("small", settings=PRUNED)
    with serving(stream_app(store, ws_max_message_bytes=1024)) as running:
        http = httpx.Client(base_url=running.url, headers={"X-API-Key": ADMIN_KEY}, timeout=WAIT_S)
        socket = RemoteEvents(http, reconnect=FAST).websocket()
        outcome: list[BaseException | None] = []

        def subscribe() -> None:
            try:
                socket.subscribe("big", types=[f"custom.type{n}" for n in range(200)])  # about 3.4 KB
                outcome.append(None)
            except BaseException as error:  # the test looks at it
                outcome.append(error)

        thread = threading.Thread(target=subscribe, daemon=True)
        thread.start()
        thread.join(WAIT_S)
        socket.close()
        thread.join(WAIT_S)
        http.close()
    assert outcome, "subscribe() kept reconnecting and resending"
    error = outcome[0]
    assert isinstance(error, ValidationError) and not isinstance(error, _SocketClosedError), error
    assert "ws_max_message_bytes" in str(error)
    assert socket._core.failures <= 1


def test_close_while_a_request_waits_for_its_answer_raises_closed() -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import ServerConnection, serve

    def handler(connection: ServerConnection) -> None:
        # A server that says ready and then answers nothing: the ping waits until close().
        connection.send('{"type": "ready"}')
        with contextlib.suppress(ConnectionClosed):
            for _ in connection:
                pass

    with serve(handler, "127.0.0.1", 0) as server:
        serving_thread = threading.Thread(target=server.serve_forever, daemon=True)
        serving_thread.start()
        port = server.socket.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            socket = RemoteEvents(client, reconnect=FAST).websocket()
            outcome: list[BaseException | None] = []

            def ping() -> None:
                try:
                    socket.ping()
                    outcome.append(None)
                except BaseException as error:  # the test looks at it
                    outcome.append(error)

            thread = threading.Thread(target=ping, daemon=True)
            thread.start()
            wait_until(lambda: socket._connection is not None, "the socket to connect")
            socket.close()
            thread.join(WAIT_S)
        server.shutdown()
        serving_thread.join(WAIT_S)
    assert outcome and isinstance(outcome[0], _SocketClosedError), outcome


def test_an_async_feed_that_raises_mid_stream_gives_its_connection_back(
    open_store: Callable[..., MemoryStore],
) -> None:
    # The server ends the stream with an error event (its store closed); the feed raises it and
    # must not keep the connection checked out of the client's pool.
    from memorylink.errors import StoreClosedError
    from stream_helpers import ALWAYS

    doomed = open_store("doomed", settings=ALWAYS)
    with serving(stream_app(doomed, poll_interval_s=0.05)) as running:

        async def main() -> int:
            limits = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(
                base_url=running.url, headers={"X-API-Key": ADMIN_KEY}, limits=limits, timeout=WAIT_S
            ) as client:
                feed = AsyncRemoteEvents(client, reconnect=FAST).feed(follow=True)
                await anyio.to_thread.run_sync(doomed.add, "one")
                with anyio.fail_after(WAIT_S):
                    assert (await feed.__anext__()).type == "memory.created"
                    await anyio.to_thread.run_sync(doomed.close)
                    with pytest.raises(StoreClosedError):
                        await feed.__anext__()
                # The pool's one connection is free again: this request does not wait for it.
                response = await client.get("/health", timeout=httpx.Timeout(WAIT_S, pool=WAIT_S / 2))
                return response.status_code

        assert anyio.run(main) == 200


# -- what docs/client.md says about reconnecting, shown ----------------------------------------


def _core(reconnect: Reconnect) -> Any:
    from memorylink.client._sse import FeedCore

    return FeedCore(
        None,
        follow=True,
        start="oldest",
        types=None,
        user_id=None,
        agent_id=None,
        run_id=None,
        reconnect=reconnect,
        idle_timeout_s=60.0,
    )


@given(st.integers(0, 600_000), st.integers(1, 12))
def test_the_server_s_retry_advice_is_the_first_wait_and_a_floor(retry_ms: int, failures: int) -> None:
    policy = Reconnect()  # 0.5 s initial, x2 per failure, at most 30 s, jitter in [0.5, 1]
    core = _core(policy)
    for line in (f"retry: {retry_ms}", ""):
        core.line(line)
    advised = retry_ms / 1000
    waits = [core.failed(None) for _ in range(failures)]
    for n, wait in enumerate(waits, start=1):
        cap = min(policy.max_delay_s, advised * 2.0 ** (n - 1))
        # Never sooner than the server asked (the SSE reconnection time), jitter on top of it;
        # beyond it, the usual doubling, capped and jittered.
        assert wait >= advised - 1e-9
        assert wait >= cap / 2 - 1e-9
        assert wait <= max(cap, advised * 1.5) + 1e-9


@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_503_waits_for_the_server_s_retry_after(status: int) -> None:
    core = _core(Reconnect())
    body = {"error": {"code": "rate_limited" if status == 429 else "unavailable", "message": "later", "details": {}}}
    response = httpx.Response(status, json=body, headers={"Retry-After": "7"})
    assert core.opened(response) == 7.0


def test_a_stream_silent_for_idle_timeout_s_is_taken_for_dropped(store: MemoryStore) -> None:
    # No keep-alive within the client's idle timeout: it reconnects (with Last-Event-ID), and
    # what is written afterwards arrives once.
    with serving(stream_app(store, poll_interval_s=0.05, sse_ping_interval_s=3600, sse_retry_ms=10)) as running:
        proxy = CuttingProxy(int(running.url.rsplit(":", 1)[1]))
        try:
            with httpx.Client(base_url=proxy.url, headers={"X-API-Key": ADMIN_KEY}, timeout=WAIT_S) as client:
                events = RemoteEvents(client, reconnect=FAST, idle_timeout_s=0.2)
                feed = events.feed(follow=True)
                got: list[str] = []
                reader = threading.Thread(target=lambda: got.extend(e.id for e in feed), daemon=True)
                reader.start()
                wait_until(lambda: proxy.accepted >= 3, "the silent stream to be reopened twice")
                created = store.add("after the silence")
                wait_until(lambda: len(got) == 1, "the event written after the silence")
                feed.close()
                reader.join(WAIT_S)
                assert got == [e.id for e in store.events.feed() if e.data.get("id") == created.id]
        finally:
            proxy.close()


@given(st.integers(1, 1_000_000), st.floats(0, 5), st.floats(0, 60), st.floats(1, 10))
def test_a_long_outage_keeps_the_wait_within_max_delay(
    failures: int, initial: float, maximum: float, multiplier: float
) -> None:
    # 30 s waits add up: after about 1,000 failures in a row (8 hours away) the growth factor
    # overflows a float, which must not end the stream.
    policy = Reconnect(initial_delay_s=initial, max_delay_s=maximum, multiplier=multiplier)
    assert 0.0 <= policy.delay(failures) <= maximum
    assert 2.0 <= policy.delay(failures, advised_s=2.0) <= max(maximum, 3.0)


def test_a_feed_retries_past_a_thousand_failures_in_a_row() -> None:
    core = _core(Reconnect(initial_delay_s=0.5, max_delay_s=30.0))
    waits = [core.failed(None) for _ in range(1100)]
    assert 15.0 <= waits[-1] <= 30.0


def test_the_parser_takes_only_ascii_digits_as_retry() -> None:
    from memorylink.client._sse import SSEParser

    parser = SSEParser()
    for line in ("retry: \u00b2", "retry: \u0663", "data: x", ""):  # a superscript two, an Arabic-Indic three
        parser.line(line)
    assert parser.retry_ms is None
    parser.line("retry: 1500")
    assert parser.retry_ms == 1500


def test_retry_advice_past_ten_minutes_is_taken_as_ten_minutes() -> None:
    core = _core(Reconnect())
    for line in ("retry: 999999999999", ""):
        core.line(line)
    assert 600.0 <= core.failed(None) <= 900.0
