"""`memorylink serve` opens its store without SQLite's memory map, so its RSS does not grow with the file."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from test_server_live import _free_port, _serve, _wait_for_health, cli_store  # noqa: F401  (a fixture)

MAPS = Path("/proc/self/maps")


@pytest.mark.skipif(not MAPS.exists(), reason="needs /proc/<pid>/maps (Linux)")
def test_serve_reads_its_database_without_mapping_it(cli_store: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    path, env = cli_store
    port = _free_port()
    process = _serve(env, "--port", str(port), "--no-auth")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, process)
        created = httpx.post(f"{url}/api/v1/memories", json={"text": "read back over HTTP"}, timeout=10).json()
        assert httpx.get(f"{url}/api/v1/memories/{created['id']}", timeout=10).json()["text"] == "read back over HTTP"
        assert httpx.get(f"{url}/api/v1/memories", timeout=10).status_code == 200
        maps = Path(f"/proc/{process.pid}/maps").read_text().splitlines()
        database = str((path / "memorylink.db").resolve())
        assert any(line.endswith(" " + database + "-shm") for line in maps)  # the right process: its WAL index
        assert not any(line.endswith(" " + database) for line in maps)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
