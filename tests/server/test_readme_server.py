"""README's "Share it over HTTP" commands, run as written, then used through RemoteStore."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from memorylink.client import RemoteStore

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Share it over HTTP", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_server_commands_run(tmp_path: Path) -> None:
    create_key, serve = readme_commands()
    assert create_key.startswith("memorylink keys create") and serve == "memorylink serve --port 8080"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYLINK_")}
    env.update(
        HOME=str(tmp_path),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MEMORYLINK_STORE=str(tmp_path / "notes-store"),
        MEMORYLINK_PASSPHRASE="correct horse battery staple",
    )
    # The README runs these after its "From the shell" section created the store.
    init = subprocess.run(["memorylink", "init", "--embedder", "hashing"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    made = subprocess.run(["bash", "-c", create_key], env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    key = re.search(r"mlk_\S+", made.stdout)
    assert key is not None, made.stdout

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = serve.replace("--port 8080", f"--port {port}")
    process = subprocess.Popen(
        command.split(), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "memorylink serve did not answer /health within 60 s"
                time.sleep(0.05)
        assert httpx.get(f"{url}/docs", timeout=10).status_code == 200
        with RemoteStore(url, api_key=key.group(0)) as store:
            memory = store.add("Alice prefers window seats on long flights", tags=["travel"])
            assert memory.user_id == "alice"  # the key's user
            assert store.search("window seats", top_k=1).hits[0].memory.id == memory.id
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
