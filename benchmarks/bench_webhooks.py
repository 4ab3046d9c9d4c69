"""Webhook delivery: throughput and latency, and what endpoints add to ``store.add``.

The receivers are ``http.server.ThreadingHTTPServer`` on 127.0.0.1 in daemon threads of
this process: a fast one (answers 200 with an empty body, keep-alive, and records the
first arrival of each ``webhook-id``, with ``time.perf_counter``) and a hanging one (waits
2 s, the endpoint's ``timeout_s``, before answering). The stores use the hashing embedder
(no model), a raw key and ``delivery_poll_interval_s=0.05``; every endpoint takes every
event, with ``retry={"max_attempts": 3, "initial_delay_s": 0.05, "max_delay_s": 0.2}``.

1. Throughput, one endpoint: ``add_many`` of 5,000 texts, timed from the call to the
   arrival of the last event (5,000 ``memory.created`` + one ``batch.completed``); then
   single ``add`` calls, 500 per sub-run, reporting arrival - return of each ``add`` (p50
   / p90): one at a time with the next add as soon as the previous event arrived (the
   worker may still be recording that delivery); one at a time with the next add once the
   worker is idle (its delivery record written, then 10 ms); and back to back (a burst:
   the latency includes the queue). The first two differ when an event committed while
   the worker finishes a round waits for the next poll (``delivery_poll_interval_s``).
2. Added cost per ``add``: three stores (0, 1 and 5 endpoints, all on the fast receiver),
   300 rounds, each round adding the same new text to all three in rotating order; p50 /
   p90 of each, as ratios to the store without endpoints (the floor: the same store, no
   outbox). Two modes: *quiesced* (after each add the script waits, off the clock, until
   its deliveries are recorded, so an add never overlaps delivery work) and *back to
   back* (no waiting: deliveries of all three stores run during every timed add, the
   floor's included, so this ratio understates the cost and says how add behaves while
   its worker is busy).
3. A hanging receiver does not slow ``add``: a store whose one endpoint hangs vs a store
   without endpoints, 300 interleaved adds (``common.interleaved``); p50 / p90 / max and
   the ratios. Delivery runs on the store's worker thread, so add must not wait on it.

The receivers share this process (and its GIL) with the stores and their delivery
threads, so their request handling is charged to the endpoint side: the figures are an
upper bound on what a remote receiver would cost. Nothing asserts a time.

    python benchmarks/bench_webhooks.py [--quick]
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import (
    KEY,
    interleaved,
    make_texts,
    parse_args,
    print_table,
    quiet_gc,
    ratio,
    summary,
    workdir,
    write_results,
)
from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder

NAME = "webhooks"
SETTINGS = Settings(events=EventSettings(delivery_poll_interval_s=0.05))
RETRY = {"max_attempts": 3, "initial_delay_s": 0.05, "max_delay_s": 0.2}
FAST_TIMEOUT_S = 5.0
HANG_S = 2.0  # the hanging receiver's wait, and its endpoint's timeout_s
WARMUP = 5  # untimed adds per store before timing (first connection, first delivery)
IDLE_PAUSE_S = 0.01  # after a delivery is recorded, time for the worker to finish its round and wait


# -- the receiver ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not an error


class Receiver:
    """A webhook endpoint on 127.0.0.1 (port 0) served from a daemon thread.

    Records, per URL path, the first arrival of each ``webhook-id`` and of each memory id in
    ``memory.created`` events. ``hang_s > 0`` makes it wait that long before answering.
    """

    def __init__(self, hang_s: float = 0.0) -> None:
        self.hang_s = hang_s
        self.requests = 0
        self.seen: dict[tuple[str, str], float] = {}  # (path, webhook-id) -> arrival
        self.created: dict[tuple[str, str], tuple[float, str]] = {}  # (path, memory id) -> (arrival, webhook-id)
        self.seen_on: Counter[str] = Counter()  # path -> distinct webhook-ids
        self.created_on: Counter[str] = Counter()  # path -> distinct memory ids
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.record(self.path, self.headers.get("webhook-id") or "", body, time.perf_counter())
                if receiver.hang_s > 0:
                    receiver.stopping.wait(receiver.hang_s)
                try:
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="bench-receiver", daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def record(self, path: str, webhook_id: str, body: bytes, arrived: float) -> None:
        memory_id = None
        try:
            payload = json.loads(body)
            if payload.get("type") == "memory.created":
                memory_id = str(payload["data"]["id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        with self.changed:
            self.requests += 1
            if (path, webhook_id) not in self.seen:
                self.seen[(path, webhook_id)] = arrived
                self.seen_on[path] += 1
            if memory_id is not None and (path, memory_id) not in self.created:
                self.created[(path, memory_id)] = (arrived, webhook_id)
                self.created_on[path] += 1
            self.changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until ``predicate()`` holds; False on timeout."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout_s)

    def wait_created(self, path: str, count: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until ``path`` received ``count`` distinct ``memory.created``."""
        return self.wait_until(lambda: self.created_on[path] >= count, timeout_s)

    def reset(self) -> None:
        with self.changed:
            self.requests = 0
            self.seen.clear()
            self.created.clear()
            self.seen_on.clear()
            self.created_on.clear()

    def close(self) -> None:
        self.stopping.set()  # a hanging handler answers now
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


# -- helpers --------------------------------------------------------------------------------


def open_store(path: Path) -> MemoryStore:
    return MemoryStore.open(path, key=KEY, embedder=HashingEmbedder(), settings=SETTINGS)


def add_hook(store: MemoryStore, url: str, timeout_s: float = FAST_TIMEOUT_S) -> Any:
    return store.webhooks.add(url, events=None, retry=RETRY, timeout_s=timeout_s)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def wait_recorded(store: MemoryStore, hook_id: str, event_id: str, timeout_s: float = 10.0) -> bool:
    """Wait until the endpoint's newest delivered record is ``event_id`` (the worker is done with it)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        newest = store.webhooks.deliveries(hook_id, state="delivered", limit=1)
        if newest and newest[0].event_id == event_id:
            return True
        time.sleep(0.0005)
    return False


def settle(store: MemoryStore, receiver: Receiver, hooks: Sequence[Any], memory_id: str, timeout_s: float) -> bool:
    """Wait until every endpoint received ``memory_id``'s event and its delivery is recorded,
    then ``IDLE_PAUSE_S`` more (the worker finishes its round)."""
    for hook in hooks:
        key = (path_of(hook.url), memory_id)
        if not receiver.wait_until(lambda key=key: key in receiver.created, timeout_s):
            return False
        if not wait_recorded(store, hook.id, receiver.created[key][1], timeout_s):
            return False
    time.sleep(IDLE_PAUSE_S)
    return True


# -- 1. throughput --------------------------------------------------------------------------


def throughput(args: Any, root: Path, receiver: Receiver) -> dict[str, Any]:
    n = 500 if args.quick else 5_000
    singles = 100 if args.quick else 500
    texts = make_texts(WARMUP + n + 3 * singles, seed=61)
    warm, bulk = texts[:WARMUP], texts[WARMUP : WARMUP + n]
    singles_texts = texts[WARMUP + n :]
    paced_texts, idle_texts = singles_texts[:singles], singles_texts[singles : 2 * singles]
    burst_texts = singles_texts[2 * singles :]
    out: dict[str, Any] = {"n": n, "singles": singles}
    store = open_store(root / "throughput")
    try:
        hook = add_hook(store, receiver.url("throughput"))
        path = path_of(hook.url)
        for text in warm:
            last = store.add(text)
        receiver.wait_until(lambda: (path, last.id) in receiver.created, 30.0)
        wait_recorded(store, hook.id, receiver.created[(path, last.id)][1])
        receiver.reset()

        # add_many of n: first add -> last arrival (n memory.created + 1 batch.completed).
        quiet_gc()
        start = time.perf_counter()
        result = store.add_many(bulk)
        returned = time.perf_counter()
        expected = result.succeeded + 1
        complete = receiver.wait_until(lambda: receiver.seen_on[path] >= expected, 60.0 + n * 0.03)
        with receiver.changed:
            arrivals = sorted(receiver.seen.values())
            created = receiver.created_on[path]
        span = arrivals[-1] - start if arrivals else float("nan")
        out["bulk"] = {
            "complete": complete,
            "events_expected": expected,
            "events_delivered": len(arrivals),
            "memory_created_delivered": created,
            "add_many_s": returned - start,
            "first_arrival_after_start_s": arrivals[0] - start if arrivals else float("nan"),
            "last_arrival_after_start_s": span,
            "drain_after_add_many_s": arrivals[-1] - returned if arrivals else float("nan"),
            "events_per_s": len(arrivals) / span if arrivals else float("nan"),
        }
        receiver.reset()

        # Single adds one at a time, two ways: the next add as soon as the previous event
        # arrived (the worker may still be finishing that delivery), or once the worker is
        # idle (the delivery recorded, then IDLE_PAUSE_S). They differ when an event
        # committed while the worker finishes a round waits for the next poll.
        for variant, idle in (("paced_on_arrival", False), ("paced_idle", True)):
            time.sleep(0.1)  # > the poll interval: the worker is idle when the sub-run starts
            quiet_gc()
            paced: list[float] = []
            paced_missing = 0
            paced_start = time.perf_counter()
            for number, text in enumerate(paced_texts if not idle else idle_texts):
                if number % 50 == 0:
                    quiet_gc()
                memory = store.add(text)
                done = time.perf_counter()
                key = (path, memory.id)
                if receiver.wait_until(lambda key=key: key in receiver.created, 10.0):
                    paced.append(receiver.created[key][0] - done)
                    if idle:
                        wait_recorded(store, hook.id, receiver.created[key][1])
                        time.sleep(IDLE_PAUSE_S)
                else:
                    paced_missing += 1
            paced_span = time.perf_counter() - paced_start
            out[variant] = {
                **summary(paced),
                "missing": paced_missing,
                "span_s": paced_span,
                "events_per_s": len(paced) / paced_span,
                "over_40ms": sum(1 for x in paced if x > 0.040),
                "below_zero": sum(1 for x in paced if x < 0),
            }
            receiver.wait_until(lambda: receiver.seen_on[path] >= singles, 10.0)
            receiver.reset()

        # Single adds back to back: a burst; each event queues behind the earlier ones.
        time.sleep(0.1)
        quiet_gc()
        returns: dict[str, float] = {}
        burst_start = time.perf_counter()
        for text in burst_texts:
            memory = store.add(text)
            returns[memory.id] = time.perf_counter()
        burst_adds_s = time.perf_counter() - burst_start
        burst_complete = receiver.wait_created(path, len(returns), 30.0 + singles * 0.05)
        with receiver.changed:
            got = {m: receiver.created[(path, m)][0] for m in returns if (path, m) in receiver.created}
        burst = [got[m] - t for m, t in returns.items() if m in got]
        burst_span = max(got.values()) - burst_start if got else float("nan")
        out["burst"] = {
            **summary(burst),
            "over_40ms": sum(1 for x in burst if x > 0.040),
            "missing": len(returns) - len(got),
            "complete": burst_complete,
            "adds_s": burst_adds_s,
            "span_s": burst_span,
            "events_per_s": len(got) / burst_span if got else float("nan"),
        }
        out["dead_deliveries"] = len(store.webhooks.deliveries(hook.id, state="dead", limit=1000))
        out["pending_deliveries"] = len(store.webhooks.deliveries(hook.id, state="pending", limit=1000))
    finally:
        store.close()
    return out


# -- 2. added cost per add ----------------------------------------------------------------


def added_cost(args: Any, root: Path, receiver: Receiver) -> dict[str, Any]:
    adds = 60 if args.quick else 300
    prefill = 100 if args.quick else 500
    endpoints = {"none": 0, "1 endpoint": 1, "5 endpoints": 5}
    names = list(endpoints)
    texts = make_texts(prefill + WARMUP + 2 * adds, seed=62)
    base, warm = texts[:prefill], texts[prefill : prefill + WARMUP]
    quiesced_texts, burst_texts = texts[prefill + WARMUP : prefill + WARMUP + adds], texts[prefill + WARMUP + adds :]
    out: dict[str, Any] = {"adds": adds, "prefill": prefill, "endpoints": endpoints}
    with ExitStack() as stack:
        stores: dict[str, MemoryStore] = {}
        for name, count in endpoints.items():
            store = open_store(root / f"cost-{count}")
            stack.callback(store.close)
            stores[name] = store
            store.add_many(base)  # before any endpoint: no events for the prefill
        hooks = {
            name: [add_hook(stores[name], receiver.url(f"cost{count}/{j}")) for j in range(count)]
            for name, count in endpoints.items()
        }
        for name in names:
            for text in warm:
                memory = stores[name].add(text)
            settle(stores[name], receiver, hooks[name], memory.id, 30.0)

        def run(texts: Sequence[str], quiesce: bool) -> tuple[dict[str, list[float]], int]:
            seconds: dict[str, list[float]] = {name: [] for name in names}
            unsettled = 0
            for number, text in enumerate(texts):
                if number % 50 == 0:
                    quiet_gc()
                shift = number % len(names)
                for name in names[shift:] + names[:shift]:
                    start = time.perf_counter()
                    memory = stores[name].add(text)
                    seconds[name].append(time.perf_counter() - start)
                    if quiesce and hooks[name] and not settle(stores[name], receiver, hooks[name], memory.id, 10.0):
                        unsettled += 1
            return seconds, unsettled

        modes: dict[str, Any] = {}
        for mode, mode_texts, quiesce in (
            ("quiesced", quiesced_texts, True),
            ("back to back", burst_texts, False),
        ):
            seconds, unsettled = run(mode_texts, quiesce)
            drain_start = time.perf_counter()
            expected = WARMUP + (2 * adds if mode == "back to back" else adds)
            paths = [path_of(hook.url) for name in names for hook in hooks[name]]
            drained = all(receiver.wait_created(path, expected, 30.0 + adds * 0.1) for path in paths)
            floor = summary(seconds["none"])
            sides = {}
            for name in names:
                side = summary(seconds[name])
                sides[name] = {
                    **side,
                    "ratio_p50": ratio(side["p50_ms"], floor["p50_ms"]),
                    "ratio_p90": ratio(side["p90_ms"], floor["p90_ms"]),
                }
            modes[mode] = {
                "sides": sides,
                "unsettled": unsettled,
                "drained": drained,
                "drain_s": time.perf_counter() - drain_start,
                "ms": {name: [x * 1000 for x in seconds[name]] for name in names},
            }
        out["modes"] = modes
        delivered: dict[str, list[int]] = {}
        for name in names:
            delivered[name] = [
                len(stores[name].webhooks.deliveries(hook.id, state="delivered", limit=1000)) for hook in hooks[name]
            ]
        out["delivered_records_per_endpoint"] = delivered
        out["delivered_records_expected"] = WARMUP + 2 * adds
    return out


# -- 3. a hanging receiver ------------------------------------------------------------------


def hanging(args: Any, root: Path, hanging_receiver: Receiver) -> dict[str, Any]:
    adds = 60 if args.quick else 300
    prefill = 100 if args.quick else 500
    texts = make_texts(prefill + WARMUP + adds, seed=63)
    base, warm, timed_texts = texts[:prefill], texts[prefill : prefill + WARMUP], texts[prefill + WARMUP :]
    out: dict[str, Any] = {"adds": adds, "prefill": prefill, "hang_s": HANG_S}
    with ExitStack() as stack:
        plain = open_store(root / "hang-none")
        stack.callback(plain.close)
        hung = open_store(root / "hang-one")
        close_timing: dict[str, float] = {}

        def close_hung() -> None:
            start = time.perf_counter()
            hung.close()
            close_timing["close_s"] = time.perf_counter() - start

        stack.callback(close_hung)
        plain.add_many(base)
        hung.add_many(base)
        add_hook(hung, hanging_receiver.url("hang"), timeout_s=HANG_S)
        for text in warm:
            plain.add(text)
            hung.add(text)
        # The worker is now inside the first POST, which will not be answered for HANG_S.
        hanging_receiver.wait_until(lambda: hanging_receiver.requests >= 1, 10.0)

        floor_s, hung_s = interleaved(adds, lambda i: plain.add(timed_texts[i]), lambda i: hung.add(timed_texts[i]))
        out["requests_during_timing"] = hanging_receiver.requests
        floor, ours = summary(floor_s), summary(hung_s)
        out["none"] = floor
        out["hanging"] = ours
        out["ratio_p50"] = ratio(ours["p50_ms"], floor["p50_ms"])
        out["ratio_p90"] = ratio(ours["p90_ms"], floor["p90_ms"])
        out["ratio_max"] = ratio(ours["max_ms"], floor["max_ms"])
        out["none_ms"] = [x * 1000 for x in floor_s]
        out["hanging_ms"] = [x * 1000 for x in hung_s]
    out["hanging_store_close_s"] = close_timing.get("close_s", float("nan"))
    return out


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args(__doc__ or NAME)
    with ExitStack() as stack:
        root = stack.enter_context(workdir(args, NAME))
        fast = Receiver()
        stack.callback(fast.close)
        slow = Receiver(hang_s=HANG_S)
        stack.callback(slow.close)

        print("part 1: throughput", flush=True)
        part1 = throughput(args, root, fast)
        fast.reset()
        print("part 2: added cost per add", flush=True)
        part2 = added_cost(args, root, fast)
        print("part 3: hanging receiver", flush=True)
        part3 = hanging(args, root, slow)

    bulk = part1["bulk"]
    n, singles = part1["n"], part1["singles"]

    def single_row(label: str, data: dict[str, Any]) -> list[Any]:
        return [
            label,
            data["n"],
            data["span_s"],
            data["events_per_s"],
            data["p50_ms"],
            data["p90_ms"],
            data["over_40ms"],
            data["missing"],
        ]

    print_table(
        "1. Delivery throughput and latency, one endpoint on a local fast receiver (hashing embedder)",
        ["run", "events", "seconds", "events / s", "arrival - return p50 (ms)", "p90 (ms)", "> 40 ms", "missing"],
        [
            [
                f"add_many({n:,}): first add -> last arrival",
                bulk["events_delivered"],
                bulk["last_arrival_after_start_s"],
                bulk["events_per_s"],
                "",
                "",
                "",
                bulk["events_expected"] - bulk["events_delivered"],
            ],
            [f"  of which add_many({n:,}) itself", n, bulk["add_many_s"], n / bulk["add_many_s"], "", "", "", ""],
            single_row(f"{singles} adds, each once the previous event arrived", part1["paced_on_arrival"]),
            single_row(f"{singles} adds, each once the worker is idle", part1["paced_idle"]),
            single_row(f"{singles} adds back to back (queue included)", part1["burst"]),
        ],
    )

    rows: list[list[Any]] = []
    for mode, data in part2["modes"].items():
        for name, side in data["sides"].items():
            rows.append(
                [
                    mode,
                    name,
                    side["p50_ms"],
                    side["p90_ms"],
                    "" if name == "none" else side["ratio_p50"],
                    "" if name == "none" else side["ratio_p90"],
                ]
            )
    print_table(
        f"2. store.add() with 0 / 1 / 5 endpoints, {part2['adds']} rounds, rotating order (floor: no endpoints)",
        ["mode", "endpoints", "add() p50 (ms)", "add() p90 (ms)", "p50 ratio / none", "p90 ratio / none"],
        rows,
    )

    none, hung = part3["none"], part3["hanging"]
    print_table(
        f"3. store.add() with one endpoint that hangs {HANG_S:g} s vs no endpoints, {part3['adds']} adds interleaved",
        ["store", "add() p50 (ms)", "add() p90 (ms)", "add() max (ms)"],
        [
            ["no endpoints", none["p50_ms"], none["p90_ms"], none["max_ms"]],
            ["1 hanging endpoint", hung["p50_ms"], hung["p90_ms"], hung["max_ms"]],
            ["ratio", part3["ratio_p50"], part3["ratio_p90"], part3["ratio_max"]],
        ],
    )
    print(
        f"hanging receiver: {part3['requests_during_timing']} request(s) received by the end of the timing; "
        f"close() of that store took {part3['hanging_store_close_s']:.2f} s (it finishes the request in flight)"
    )
    print(
        f"part 2 deliveries recorded per endpoint (expected {part2['delivered_records_expected']}): "
        + "; ".join(f"{name}: {counts}" for name, counts in part2["delivered_records_per_endpoint"].items())
    )
    write_results(NAME, args, {"throughput": part1, "added_cost": part2, "hanging": part3})


if __name__ == "__main__":
    main()
