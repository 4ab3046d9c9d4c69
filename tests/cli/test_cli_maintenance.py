"""Store-level commands: keys, wrong keys, export / import with progress, rotate-key, stats, doctor, demo."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Cli


def test_a_wrong_passphrase_exits_3_and_changes_no_byte(
    store_cli: Cli, tree_digest: Callable[[Path], dict[str, str]]
) -> None:
    store_cli.ok("add", "a secret worth keeping")
    before = tree_digest(store_cli.store)
    for command in (["list"], ["search", "secret"], ["add", "more"], ["stats"], ["doctor"]):
        result = store_cli(*command, env={"MEMORYLINK_PASSPHRASE": "wrong passphrase"})
        assert result.returncode == 3, (command, result.stderr)
        assert result.stderr == "memorylink: error: the passphrase or key does not open this store\n"
    assert tree_digest(store_cli.store) == before


def test_raw_key_files(cli: Cli, tmp_path: Path) -> None:
    key_file = tmp_path / "store.key"
    key_file.write_bytes(os.urandom(32))
    key_file.chmod(0o600)
    env = {"MEMORYLINK_PASSPHRASE": None}
    created = cli.ok("--key-file", str(key_file), "init", "--embedder", "hashing", "--json", env=env)
    assert json.loads(created.stdout)["key_kind"] == "raw"
    memory_id = cli.ok("--key-file", str(key_file), "add", "opened with a key file", env=env).stdout.strip()
    through_env = cli.ok("get", memory_id, "--json", env={**env, "MEMORYLINK_KEY_FILE": str(key_file)})
    assert json.loads(through_env.stdout)["text"] == "opened with a key file"
    asked_for_passphrase = cli("get", memory_id, env={"MEMORYLINK_PASSPHRASE": "pw"})
    assert asked_for_passphrase.returncode == 2 and "raw key" in asked_for_passphrase.stderr
    hex_file = tmp_path / "hex.key"
    hex_file.write_text(os.urandom(32).hex() + "\n")
    wrong = cli("--key-file", str(hex_file), "get", memory_id, env=env)
    assert wrong.returncode == 3
    assert "readable by others" in wrong.stderr  # written with the default umask


def test_a_key_file_inside_the_store_is_refused(cli: Cli, tmp_path: Path) -> None:
    outside = tmp_path / "store.key"
    outside.write_bytes(os.urandom(32))
    outside.chmod(0o600)
    env = {"MEMORYLINK_PASSPHRASE": None}
    cli.ok("--key-file", str(outside), "init", "--embedder", "hashing", env=env)
    inside = cli.store / "copy.key"
    inside.write_bytes(outside.read_bytes())
    result = cli("--key-file", str(inside), "list", env=env)
    assert result.returncode == 2 and "inside the store directory" in result.stderr
    wrong_kind = cli("list", env={"MEMORYLINK_PASSPHRASE": "a passphrase"})
    assert wrong_kind.returncode == 2 and "raw key" in wrong_kind.stderr


def test_export_import_round_trip_with_a_bad_line(store_cli: Cli, tmp_path: Path) -> None:
    ids = [store_cli.ok("add", f"memory {n}", "-t", f"t{n}").stdout.strip() for n in range(4)]
    sealed = tmp_path / "sealed.jsonl"
    store_cli.ok("export", str(sealed))
    assert "memory 1" not in sealed.read_text()
    plain = tmp_path / "plain.jsonl"
    store_cli.ok("export", str(plain), "--plaintext")
    lines = plain.read_text().splitlines()
    assert len(lines) == 5 and "memory 1" in plain.read_text()
    lines.insert(3, "{not json")
    plain.write_text("\n".join(lines) + "\n")
    other = Cli(store=tmp_path / "other", env={**store_cli.env, "MEMORYLINK_STORE": str(tmp_path / "other")})
    other.ok("init", "--embedder", "hashing")
    result = other("import", str(plain), "--json")
    assert result.returncode == 5
    report = json.loads(result.stdout)
    assert report["imported"] == 4 and report["failed"] == 1
    assert report["errors"][0]["line"] == 4
    assert sorted(report["ids"]) == sorted(ids)
    human = other("import", str(plain))
    assert human.returncode == 5
    assert "imported 0, skipped 4, failed 1" in human.stdout
    assert "line 4: not JSON" in human.stderr
    from_stdin = Cli(store=tmp_path / "third", env={**store_cli.env, "MEMORYLINK_STORE": str(tmp_path / "third")})
    from_stdin.ok("init", "--embedder", "hashing")
    piped = from_stdin("import", "-", "--json", input=sealed.read_text())
    assert piped.returncode == 0 and json.loads(piped.stdout)["imported"] == 4


def test_a_10000_line_import_shows_progress_with_rate_and_eta(store_cli: Cli, tmp_path: Path) -> None:
    from memorylink.ids import encode_id

    header = {"format": "memorylink.export", "version": 1, "encrypted": False, "embedder": "memorylink/hashing-v1"}
    source = tmp_path / "big.jsonl"
    with source.open("w") as handle:
        handle.write(json.dumps(header) + "\n")
        for n in range(10_000):
            memory = {
                "id": encode_id((1_767_225_600_000 << 20) + n),
                "text": f"imported memory number {n}",
                "tags": ["bulk"],
                "user_id": "bulk",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            }
            handle.write(json.dumps(memory) + "\n")
    result = store_cli("import", str(source), "--progress", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "imported 10000, skipped 0, failed 0" in result.stdout
    assert "10000/10000" in result.stderr
    assert "lines/s" in result.stderr and "100%" in result.stderr
    stats = json.loads(store_cli.ok("stats", "--json").stdout)
    assert stats["memories"] == 10_000


def test_rotate_key_then_only_the_new_passphrase_opens(store_cli: Cli) -> None:
    memory_id = store_cli.ok("add", "survives the rotation").stdout.strip()
    rotated = store_cli.ok("rotate-key", env={"MEMORYLINK_NEW_PASSPHRASE": "a brand new passphrase"})
    assert "re-encrypted under key" in rotated.stdout
    assert store_cli("get", memory_id).returncode == 3
    reopened = store_cli.ok("get", memory_id, "--json", env={"MEMORYLINK_PASSPHRASE": "a brand new passphrase"})
    assert json.loads(reopened.stdout)["text"] == "survives the rotation"


def test_stats_and_doctor(store_cli: Cli) -> None:
    for n in range(3):
        store_cli.ok("add", f"memory {n}", "-u", f"user{n % 2}")
    stats = json.loads(store_cli.ok("stats", "--json").stdout)
    assert stats["memories"] == 3 and stats["users"] == 2 and stats["embedder"] == "memorylink/hashing-v1"
    report = json.loads(store_cli.ok("doctor", "--json").stdout)
    assert report["ok"] is True
    assert {check["name"] for check in report["checks"]} >= {"schema", "embedder", "records", "index", "journal"}
    assert "3 memories, 0 failed" in next(c["detail"] for c in report["checks"] if c["name"] == "records")
    assert "FAILED" not in store_cli.ok("doctor").stdout


def test_doctor_reports_a_tampered_record(store_cli: Cli) -> None:
    import sqlite3

    store_cli.ok("add", "to be tampered with")
    connection = sqlite3.connect(store_cli.store / "memorylink.db")
    with connection:
        (body,) = connection.execute("SELECT body FROM memories").fetchone()
        flipped = bytes([body[0]]) + bytes([body[1] ^ 0xFF]) + body[2:]
        connection.execute("UPDATE memories SET body = ?", (flipped,))
    connection.close()
    result = store_cli("doctor", "--json")
    assert result.returncode == 4
    report = json.loads(result.stdout)
    records = next(c for c in report["checks"] if c["name"] == "records")
    assert records["ok"] is False and "1 failed" in records["detail"]


def test_demo_on_the_hashing_embedder(cli: Cli) -> None:
    result = cli.ok("demo", "--embedder", "hashing")
    assert "stored 12 memories for 2 users" in result.stdout
    sections = result.stdout.split("\n\n")
    theo = next(section for section in sections if section.startswith("Theo:"))
    assert "Theo" in theo and "Maya" not in theo  # scoped to his memories
    long_meetings = next(section for section in sections if "longer than 45 minutes" in section)
    assert "90 minutes" in long_meetings and "Wednesday" not in long_meetings
    assert not cli.store.exists()  # the demo uses a throwaway store


@pytest.mark.model
def test_demo_with_the_real_model_finds_by_meaning(cli: Cli) -> None:
    result = cli.ok("demo", timeout=600)
    section = result.stdout.split("Maya: how does she like to fly?")[1].split("Theo: the same")[0]
    assert "aisle seats" in section


def test_import_of_plain_json_lines(store_cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text(
        json.dumps({"text": "Standup moved to 9:30", "tags": ["meeting"]})
        + "\n"
        + json.dumps({"text": "  "})
        + "\n"
        + json.dumps({"text": "Order more coffee", "metadata": {"urgent": True}, "user_id": "office"})
        + "\n"
    )
    result = store_cli("import", str(notes))
    assert result.returncode == 5
    assert "imported 2, skipped 0, failed 1" in result.stdout
    assert "line 2:" in result.stderr
    listed = json.loads(store_cli.ok("list", "-u", "office", "--json").stdout)["items"]
    assert [(m["text"], m["metadata"]) for m in listed] == [("Order more coffee", {"urgent": True})]
