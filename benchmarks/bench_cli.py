"""Cold command-line calls: wall time of a fresh ``memorylink`` process on a 10,000-memory store.

For each embedder (the light ONNX build and the default torch one) a store of 10,000
memories is built in-process first. Then each command runs as a new process, as a user
types it, several rounds, commands interleaved round by round so machine noise hits all
of them. Beside them, two floors in fresh processes: the interpreter importing memorylink,
and the embedder alone (import, load the model, embed one text), the part of a cold search
no store can avoid. Target: a cold ``memorylink search`` under 2.5 s.

    python benchmarks/bench_cli.py [--quick] [--rounds N] [--embedders minilm-onnx minilm]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import KEY, make_queries, make_texts, parse_args, print_table, verdict, workdir, write_results
from memorylink import MemoryStore
from memorylink.embedders.known import embedder_named

TARGET_SEARCH_S = 2.5
SCRIPT = Path(sys.executable).with_name("memorylink")
EMBED_ALONE = (
    "import sys; from memorylink.embedders.known import embedder_named; "
    "embedder_named(sys.argv[1]).embed(['a cold query about window seats'])"
)


def build_store(directory: Path, embedder: str, count: int) -> str:
    """A store of ``count`` generated memories; returns one memory's id."""
    with MemoryStore.open(directory, key=KEY, embedder=embedder_named(embedder)) as store:
        texts = make_texts(count)
        result = store.add_many([{"text": t, "tags": [f"t{i % 10}"], "user_id": "bench"} for i, t in enumerate(texts)])
        assert result.failed == 0
        first = result.items[0].id
        assert first is not None
        return first


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{command} failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    def options(parser: Any) -> None:
        parser.add_argument("--rounds", type=int, default=None, help="fresh processes per command (default 7)")
        parser.add_argument(
            "--embedders", nargs="+", default=["minilm-onnx", "minilm"], help="which stores to build and time"
        )

    args = parse_args(__doc__ or "", options)
    count = 1_000 if args.quick else 10_000
    rounds = args.rounds or (3 if args.quick else 7)
    queries = make_queries(rounds * 2)
    results: dict[str, Any] = {"memories": count, "rounds": rounds, "embedders": {}}
    rows: list[list[Any]] = []
    with workdir(args, "cli") as root:
        key_file = root / "store.key"
        key_file.write_bytes(KEY)
        key_file.chmod(0o600)
        for embedder in args.embedders:
            directory = root / embedder
            started = time.perf_counter()
            memory_id = build_store(directory, embedder, count)
            print(f"built a {count:,}-memory store on {embedder} in {time.perf_counter() - started:.0f} s", flush=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
            env.update({"MEMORYLINK_STORE": str(directory), "MEMORYLINK_KEY_FILE": str(key_file)})
            cli = [str(SCRIPT)]
            times: dict[str, list[float]] = {
                "python -c 'import memorylink'": [],
                "embedder alone (import, load, embed 1)": [],
                "memorylink search": [],
                "memorylink add": [],
                "memorylink get": [],
                "memorylink list": [],
            }
            for round_number in range(rounds):
                commands = {
                    "python -c 'import memorylink'": [sys.executable, "-c", "import memorylink"],
                    "embedder alone (import, load, embed 1)": [sys.executable, "-c", EMBED_ALONE, embedder],
                    "memorylink search": [*cli, "search", queries[round_number], "-k", "10"],
                    "memorylink add": [*cli, "add", f"a new memory typed at the shell, round {round_number}"],
                    "memorylink get": [*cli, "get", memory_id],
                    "memorylink list": [*cli, "list", "-n", "10"],
                }
                order = list(commands)
                if round_number % 2:
                    order.reverse()
                for name in order:
                    times[name].append(wall(commands[name], env))
            medians = {name: statistics.median(values) for name, values in times.items()}
            results["embedders"][embedder] = {
                "seconds": times,
                "median_s": medians,
                "search_verdict": verdict(medians["memorylink search"], TARGET_SEARCH_S),
            }
            floor = medians["embedder alone (import, load, embed 1)"]
            for name, median in medians.items():
                target = f"< {TARGET_SEARCH_S} s" if name == "memorylink search" else ""
                shown = verdict(median, TARGET_SEARCH_S) if target else ""
                over = f"{median / floor:.2f}x" if name.startswith("memorylink") else ""
                rows.append([embedder, name, median, min(times[name]), max(times[name]), over, target, shown])
    print_table(
        f"cold processes, {count:,} memories, median of {rounds} (seconds)",
        ["embedder", "process", "median s", "min s", "max s", "vs embedder alone", "target", "verdict"],
        rows,
    )
    write_results("cli", args, results)


if __name__ == "__main__":
    main()
