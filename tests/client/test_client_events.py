"""The client's event streams against a real server: SSE feeds and WebSockets that reconnect and resume."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sse_starlette import ServerSentEvent

from memorylink import MemoryStore
from memorylink.client._events import AsyncRemoteEvents, Reconnect, RemoteEventFeed, RemoteEvents
from memorylink.client._sse import SSEParser
from memorylink.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
    ValidationError,
)
from memorylink.events import Event
from memorylink.server.streams import hub_of
from stream_helpers import (
    ADMIN_KEY,
    ALICE_KEY,
    ALWAYS,
    BOB_KEY,
    WAIT_S,
    CuttingProxy,
    Live,
    open_feeds,
    serving,
    start,
    stream_app,
    wait_until,
)

FAST = Reconnect(initial_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
def store(open_store: Callable[..., MemoryStore]) -> MemoryStore:
    return open_store(settings=ALWAYS)


@pytest.fixture
def live(store: MemoryStore) -> Iterator[Live]:
    with serving(stream_app(store, poll_interval_s=0.05, sse_retry_ms=10)) as running:
        yield running


@pytest.fixture
def http_for() -> Iterator[Callable[[str, str], httpx.Client]]:
    clients: list[httpx.Client] = []

    def factory(url: str, api_key: str) -> httpx.Client:
        client = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=WAIT_S)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def ids(store: MemoryStore, after: str | None = None) -> list[str]:
    return [event.id for event in store.events.feed(after=after)]


class Collector:
    """Iterates a feed in a thread, keeping every event; the test waits on counts with a bound."""

    def __init__(self, feed: RemoteEventFeed) -> None:
        self.feed = feed
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.feed:
                self.events.append(event)
        except BaseException as error:
            self.error = error

    def wait_for(self, count: int) -> list[Event]:
        wait_until(lambda: len(self.events) >= count or self.error is not None, f"{count} events")
        assert self.error is None, self.error
        return self.events

    def stop(self) -> None:
        self.feed.close()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "close() did not end the iteration"


# -- SSE, sync --------------------------------------------------------------------------------


def test_feed_without_follow_mirrors_the_local_feed(
    live: Live, store: MemoryStore, http_for: Callable[[str, str], httpx.Client]
) -> None:
    for n in range(5):
        store.add(f"m{n}", user_id="alice")
    events = RemoteEvents(http_for(live.url, ADMIN_KEY))
    everything = list(events.feed())
    assert everything == list(store.events.feed())
    after_second = events.feed(after=everything[1].id)
    assert [e.id for e in after_second] == ids(store, everything[1].id)
    assert after_second.last_event_id == everything[-1].id
    assert [e.type for e in events.feed(start="latest")] == []


def test_a_following_feed_survives_cut_connections_without_gaps_or_repeats(
    live: Live, store: MemoryStore, proxy: CuttingProxy, http_for: Callable[[str, str], httpx.Client]
) -> None:
    feed = RemoteEvents(http_for(proxy.url, ADMIN_KEY), reconnect=FAST).feed(follow=True)
    collector = Collector(feed)
    wait_until(lambda: proxy.accepted == 1, "the stream to connect")
    store.add("first")
    collector.wait_for(1)
    for round_ in range(3):
        proxy.cut(pause=True)  # the connection dies and reconnects fail until resume()
        for n in range(4):
            store.add(f"round {round_} item {n}")
        proxy.resume()
        collector.wait_for(1 + 4 * (round_ + 1))
    assert proxy.accepted >= 4  # it did reconnect, once per cut at least
    collector.stop()
    assert [e.id for e in collector.events] == ids(store)
    assert feed.last_event_id == ids(store)[-1]


def test_a_latest_feed_cut_before_any_event_resumes_from_where_it_started(
    live: Live, store: MemoryStore, proxy: CuttingProxy, http_for: Callable[[str, str], httpx.Client]
) -> None:
    store.add("before the feed")
    start_id = ids(store)[-1]
    feed = RemoteEvents(http_for(proxy.url, ADMIN_KEY), reconnect=FAST).feed(follow=True, start="latest")
    collector = Collector(feed)
    wait_until(lambda: feed.last_event_id == start_id, "the stream to announce its start")
    proxy.cut(pause=True)
    store.add("while away")
    proxy.resume()
    collector.wait_for(1)
    collector.stop()
    assert [e.id for e in collector.events] == ids(store, start_id)


def test_a_users_feed_cut_before_its_first_event_resumes_from_its_sealed_position(
    live: Live, store: MemoryStore, proxy: CuttingProxy, http_for: Callable[[str, str], httpx.Client]
) -> None:
    store.add("bob's, the newest event", user_id="bob")
    feed = RemoteEvents(http_for(proxy.url, ALICE_KEY), reconnect=FAST).feed(follow=True, start="latest")
    collector = Collector(feed)
    wait_until(lambda: (feed.last_event_id or "").startswith("pos_"), "the stream to announce its position")
    proxy.cut(pause=True)
    mine = store.add("alice's, while away", user_id="alice")
    proxy.resume()
    collector.wait_for(1)
    collector.stop()
    assert [e.data["id"] for e in collector.events] == [mine.id]  # nothing lost, nothing of bob's


def test_feed_types_and_scope(live: Live, store: MemoryStore, http_for: Callable[[str, str], httpx.Client]) -> None:
    memory = store.add("alice's", user_id="alice", agent_id="a1")
    store.add("bob's", user_id="bob")
    store.delete(memory.id)
    as_alice = RemoteEvents(http_for(live.url, ALICE_KEY))
    assert {e.user_id for e in as_alice.feed()} == {"alice"}
    assert [e.type for e in as_alice.feed(types=["memory.deleted"])] == ["memory.deleted"]
    as_admin = RemoteEvents(http_for(live.url, ADMIN_KEY))
    assert [e.user_id for e in as_admin.feed(user_id="bob")] == ["bob"]
    assert [e.agent_id for e in as_admin.feed(agent_id="a1")] == ["a1", "a1"]
    with pytest.raises(PermissionDeniedError):
        list(as_alice.feed(user_id="bob"))


def test_feed_errors_are_the_library_s(
    live: Live, store: MemoryStore, http_for: Callable[[str, str], httpx.Client]
) -> None:
    store.add("one")
    events = RemoteEvents(http_for(live.url, ADMIN_KEY))
    with pytest.raises(NotFoundError) as caught:
        list(events.feed(after="evt_unknown"))
    assert caught.value.memory_id == "evt_unknown" and caught.value.kind == "event"
    with pytest.raises(AuthenticationError):
        list(RemoteEvents(http_for(live.url, "wrong-key")).feed())
    with pytest.raises(ValidationError):
        events.feed(types="memory.*")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        events.feed(after="evt_x", start="latest")


def test_close_from_another_thread_ends_a_waiting_iteration(
    live: Live, http_for: Callable[[str, str], httpx.Client]
) -> None:
    collector = Collector(RemoteEvents(http_for(live.url, ADMIN_KEY)).feed(follow=True))
    wait_until(lambda: collector.feed._response is not None, "the stream to open")
    collector.stop()
    assert collector.error is None
    wait_until(lambda: open_feeds(live.app) == 0, "the server to let the stream go")


def test_a_server_that_stays_away_raises_after_max_attempts(http_for: Callable[[str, str], httpx.Client]) -> None:
    import socket

    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    events = RemoteEvents(http_for(f"http://127.0.0.1:{port}", ADMIN_KEY), reconnect=Reconnect(0.0, 0.0, 1.0, 2))
    with pytest.raises(RemoteError) as caught:
        list(events.feed(follow=True))
    assert caught.value.code == "connection_error"


# -- SSE, async -------------------------------------------------------------------------------


def test_async_feed_reconnects_and_resumes(live: Live, store: MemoryStore, proxy: CuttingProxy) -> None:
    async def main() -> list[str]:
        with anyio.fail_after(WAIT_S):
            return await run()

    async def run() -> list[str]:
        async with httpx.AsyncClient(base_url=proxy.url, headers={"X-API-Key": ADMIN_KEY}) as http:
            feed = AsyncRemoteEvents(http, reconnect=FAST).feed(follow=True)
            got: list[str] = []
            await anyio.to_thread.run_sync(store.add, "first")
            async with feed:
                async for event in feed:
                    got.append(event.id)
                    if len(got) == 1:
                        proxy.cut(pause=True)
                        for n in range(3):
                            await anyio.to_thread.run_sync(store.add, f"away {n}")
                        proxy.resume()
                    if len(got) == 4:
                        break
            return got

    assert anyio.run(main) == ids(store)


def test_async_aclose_from_another_task_ends_the_iteration(live: Live) -> None:
    async def main() -> bool:
        async with httpx.AsyncClient(base_url=live.url, headers={"X-API-Key": ADMIN_KEY}) as http:
            feed = AsyncRemoteEvents(http).feed(follow=True)
            ended = anyio.Event()

            async def consume() -> None:
                async for _ in feed:
                    pass
                ended.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await anyio.to_thread.run_sync(wait_until, lambda: open_feeds(live.app) == 1, "open")
                await feed.aclose()
                with anyio.fail_after(WAIT_S):
                    await ended.wait()
            return ended.is_set()

    assert anyio.run(main)


# -- WebSocket --------------------------------------------------------------------------------


def test_websocket_subscribes_receives_and_resumes_after_a_cut(
    live: Live, store: MemoryStore, proxy: CuttingProxy, http_for: Callable[[str, str], httpx.Client]
) -> None:
    events = RemoteEvents(http_for(proxy.url, ADMIN_KEY), reconnect=FAST)
    with events.websocket() as socket:
        socket.subscribe("planner", types=["memory.created"], agent_id="planner")
        socket.subscribe("all")
        store.add("not mine", agent_id="coder")
        mine = store.add("mine", agent_id="planner")
        received = [next(iter(socket)) for _ in range(3)]
        assert [(r.subscription, r.event.type) for r in received] == [
            ("all", "memory.created"),
            ("planner", "memory.created"),
            ("all", "memory.created"),
        ]
        assert received[1].event.data["id"] == mine.id
        proxy.cut(pause=True)
        written = [store.add(f"away {n}", agent_id="planner").id for n in range(3)]
        proxy.resume()
        after = [next(iter(socket)) for _ in range(6)]
        planner = [r.event.data["id"] for r in after if r.subscription == "planner"]
        everything = [r.event.id for r in after if r.subscription == "all"]
        assert planner == written
        assert everything == ids(store)[2:]
        socket.unsubscribe("all")
        last = store.add("only planner now", agent_id="planner")
        (only,) = [next(iter(socket))]
        assert only.subscription == "planner" and only.event.data["id"] == last.id
        socket.ping()


def test_websocket_refusals_are_the_library_s_errors(live: Live, http_for: Callable[[str, str], httpx.Client]) -> None:
    with RemoteEvents(http_for(live.url, ALICE_KEY)).websocket() as socket:
        with pytest.raises(PermissionDeniedError):
            socket.subscribe("spy", user_id="bob")
        with pytest.raises(NotFoundError):
            socket.unsubscribe("never")
    with pytest.raises(AuthenticationError):
        RemoteEvents(http_for(live.url, "wrong-key"), reconnect=FAST).websocket().subscribe("s1")


def test_async_websocket_receives_and_resumes(live: Live, store: MemoryStore, proxy: CuttingProxy) -> None:
    async def main() -> list[str]:
        with anyio.fail_after(WAIT_S):
            return await run()

    async def run() -> list[str]:
        async with (
            httpx.AsyncClient(base_url=proxy.url, headers={"X-API-Key": BOB_KEY}) as http,
            AsyncRemoteEvents(http, reconnect=FAST).websocket() as socket,
        ):
            await socket.subscribe("mine")
            await anyio.to_thread.run_sync(lambda: store.add("bob's first", user_id="bob"))
            got = [(await socket.__anext__()).event.id]
            proxy.cut(pause=True)
            for n in range(3):
                await anyio.to_thread.run_sync(lambda n=n: store.add(f"bob {n}", user_id="bob"))
                await anyio.to_thread.run_sync(lambda n=n: store.add(f"alice {n}", user_id="alice"))
            proxy.resume()
            got += [(await socket.__anext__()).event.id for _ in range(3)]
            await socket.ping()
            return got

    got = anyio.run(main)
    assert got == [e.id for e in store.events.feed() if e.user_id == "bob"]


# -- the SSE parser ---------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=30)


@given(
    frames=st.lists(
        st.tuples(
            st.from_regex(r"evt_[a-z0-9]{1,12}", fullmatch=True),
            st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}", fullmatch=True),
            st.lists(_TEXT, min_size=1, max_size=3),
        ),
        max_size=6,
    ),
    separator=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_parser_reads_back_what_sse_starlette_writes(frames: list[tuple[str, str, list[str]]], separator: str) -> None:
    wire = "".join(
        ServerSentEvent(id=i, event=e, data="\n".join(lines), sep=separator).encode().decode()
        + ServerSentEvent(comment="ping", sep=separator).encode().decode()
        for i, e, lines in frames
    )
    parser = SSEParser()
    got = [m for line in wire.replace("\r\n", "\n").replace("\r", "\n").split("\n") if (m := parser.line(line))]
    assert [(m.id, m.event, m.data) for m in got] == [(i, e, "\n".join(lines)) for i, e, lines in frames]


def test_parser_keeps_the_id_of_a_message_cut_short_out() -> None:
    parser = SSEParser()
    for line in ("id: evt_1", "data: {}", ""):
        parser.line(line)
    parser.line("id: evt_2")  # the connection drops here, before the blank line
    parser.reset()
    assert parser.last_event_id == "evt_1"


@given(st.integers(1, 40), st.floats(0, 5), st.floats(0, 60))
def test_reconnect_delays_stay_within_bounds(failures: int, initial: float, maximum: float) -> None:
    policy = Reconnect(initial_delay_s=initial, max_delay_s=maximum)
    delay = policy.delay(failures)
    cap = min(maximum, initial * 2.0 ** (failures - 1))
    assert cap / 2 - 1e-9 <= delay <= cap + 1e-9


def test_websocket_answers_heartbeats_and_survives_being_timed_out(
    open_store: Callable[..., MemoryStore], http_for: Callable[[str, str], httpx.Client]
) -> None:
    beating = open_store("beating", settings=ALWAYS)
    app = stream_app(beating, poll_interval_s=0.05, ws_heartbeat_interval_s=0.05, ws_heartbeat_timeout_s=0.3)
    with serving(app) as running:
        socket = RemoteEvents(http_for(running.url, ADMIN_KEY), reconnect=FAST).websocket()
        socket.subscribe("all")
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.extend(item.event.id for item in socket), daemon=True)
        reader.start()
        wait_until(lambda: socket.heartbeats >= 5, "five answered heartbeats")
        assert hub_of(running.app).sockets == 1
        beating.add("while iterating")
        wait_until(lambda: len(got) == 1, "the first event")
        socket.close()
        reader.join(WAIT_S)
        assert not reader.is_alive()

        # A consumer that stops reading is timed out by the server; the next read reconnects and resumes.
        idle = RemoteEvents(http_for(running.url, ADMIN_KEY), reconnect=FAST).websocket()
        idle.subscribe("all")
        wait_until(lambda: hub_of(running.app).sockets == 0, "the server to drop the silent client")
        written = [beating.add(f"while silent {n}").id for n in range(3)]
        received = [next(iter(idle)).event.data["id"] for _ in range(3)]
        idle.close()
    assert received == written


def test_reconnect_defaults_are_the_documented_ones() -> None:
    policy = Reconnect()
    assert (policy.initial_delay_s, policy.max_delay_s, policy.multiplier, policy.max_attempts) == (
        0.5,
        30.0,
        2.0,
        None,
    )
    assert RemoteEvents(httpx.Client()).idle_timeout_s == 60.0
    with pytest.raises(ValidationError):
        Reconnect(multiplier=0.5)
    with pytest.raises(ValidationError):
        Reconnect(max_attempts=0)


def test_a_following_feed_outlives_a_server_restart(
    store: MemoryStore, http_for: Callable[[str, str], httpx.Client]
) -> None:
    first = start(stream_app(store, poll_interval_s=0.05, sse_retry_ms=10))
    port = int(first.url.rsplit(":", 1)[1])
    feed = RemoteEvents(http_for(first.url, ADMIN_KEY), reconnect=FAST).feed(follow=True)
    collector = Collector(feed)
    store.add("before the restart")
    collector.wait_for(1)
    first.stop()  # the stream ends cleanly; reconnects are refused while nothing listens
    written = [store.add(f"while down {n}").id for n in range(3)]
    second = start(stream_app(store, poll_interval_s=0.05), port=port)
    try:
        events = collector.wait_for(4)
    finally:
        collector.stop()
        second.stop()
    assert [e.data["id"] for e in events[1:]] == written
    assert [e.id for e in events] == ids(store)


def test_a_credential_revoked_mid_stream_raises_authentication_error(
    store: MemoryStore, http_for: Callable[[str, str], httpx.Client]
) -> None:
    from memorylink.server import ServerSettings, create_app
    from memorylink.server.auth import build_guard
    from memorylink.server.ratelimit import RateLimitSettings
    from memorylink.server.streams import StreamSettings

    settings = ServerSettings(
        rate_limits=RateLimitSettings(enabled=False),
        streams=StreamSettings(reauth_interval_s=0.1, poll_interval_s=0.05),
    )
    guard = build_guard(store, settings)
    created = guard.service.accounts.create_key(user_id="gina", scopes=("read",))
    with serving(create_app(store, settings, guard=guard)) as running:
        collector = Collector(RemoteEvents(http_for(running.url, created.key), reconnect=FAST).feed(follow=True))
        store.add("hers", user_id="gina")
        collector.wait_for(1)
        guard.service.accounts.revoke_key(created.id)
        wait_until(lambda: collector.error is not None, "the stream to end with the refusal")
        collector.thread.join(WAIT_S)
    assert isinstance(collector.error, AuthenticationError)
