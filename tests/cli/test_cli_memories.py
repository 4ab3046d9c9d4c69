"""The memory commands, run as the installed console script: output, --json, exit codes, bad input."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from cli_helpers import PASSPHRASE, Cli


def add(cli: Cli, text: str, *args: str) -> str:
    memory_id = cli.ok("add", text, *args).stdout.strip()
    assert len(memory_id) == 13, memory_id
    return memory_id


def test_init_creates_a_private_store_and_refuses_a_second(cli: Cli) -> None:
    result = cli.ok("init", "--embedder", "hashing", "--json")
    info = json.loads(result.stdout)
    assert info["embedder"] == "memorylink/hashing-v1"
    assert info["key_kind"] == "passphrase"
    assert PASSPHRASE not in result.stdout + result.stderr
    assert stat.S_IMODE(cli.store.stat().st_mode) == 0o700
    again = cli("init", "--embedder", "hashing")
    assert again.returncode == 2
    assert "already a memorylink store" in again.stderr


def test_no_key_on_a_pipe_is_a_usage_error_naming_the_variables(cli: Cli) -> None:
    result = cli("init", "--embedder", "hashing", env={"MEMORYLINK_PASSPHRASE": None})
    assert result.returncode == 2
    assert "MEMORYLINK_PASSPHRASE" in result.stderr and "MEMORYLINK_KEY_FILE" in result.stderr
    assert not cli.store.exists()


def test_add_get_with_tags_typed_metadata_and_stdin(store_cli: Cli) -> None:
    first = add(
        store_cli,
        "Alice prefers window seats",
        "--tag",
        "travel",
        "-t",
        "pref",
        "-m",
        "priority=3",
        "-m",
        "source=chat",
        "-m",
        "flags=[1, 2]",
    )
    memory = json.loads(store_cli.ok("get", first, "--json").stdout)
    assert memory["text"] == "Alice prefers window seats"
    assert memory["tags"] == ["travel", "pref"]
    assert memory["metadata"] == {"priority": 3, "source": "chat", "flags": [1, 2]}
    second = store_cli.ok("add", "-t", "stdin", input="A text from a pipe\n").stdout.strip()
    assert json.loads(store_cli.ok("get", second, "--json").stdout)["text"] == "A text from a pipe"
    table = store_cli.ok("get", first).stdout
    assert "Alice prefers window seats" in table and "priority=3" in table


def test_get_missing_is_exit_1_and_a_bad_id_exit_2(store_cli: Cli) -> None:
    missing = store_cli("get", "00000000000000"[:13])
    assert missing.returncode == 1
    assert missing.stderr.startswith("memorylink: error:") and missing.stderr.count("\n") == 1
    bad = store_cli("get", "nope")
    assert bad.returncode == 2
    assert "invalid memory id" in bad.stderr


def test_search_json_filters_threshold_and_sort(store_cli: Cli) -> None:
    window = add(store_cli, "Alice prefers window seats on long flights", "-t", "travel", "-m", "minutes=5")
    add(store_cli, "The planning meeting moved to Thursday", "-t", "meeting", "-m", "minutes=60")
    add(store_cli, "The retro meeting runs 45 minutes on Fridays", "-t", "meeting", "-m", "minutes=45")
    result = json.loads(store_cli.ok("search", "window seats flights", "--json", "-k", "1").stdout)
    assert [hit["memory"]["id"] for hit in result["hits"]] == [window]
    assert result["query"] == "window seats flights"
    where = json.dumps({"tags": {"any": ["meeting"]}, "metadata.minutes": {"gt": 50}})
    filtered = json.loads(store_cli.ok("search", "meeting", "--where", where, "--json").stdout)
    assert [hit["memory"]["text"] for hit in filtered["hits"]] == ["The planning meeting moved to Thursday"]
    assert filtered["filter"] is not None
    by_tag = json.loads(store_cli.ok("search", "meeting", "-t", "meeting", "--sort", "date", "--json").stdout)
    assert by_tag["sort_by"] == "date"
    assert by_tag["hits"][0]["memory"]["text"].startswith("The retro")
    strict = store_cli("search", "completely unrelated words", "--threshold", "0.99")
    assert strict.returncode == 1
    assert "no memory matched" in strict.stderr
    table = store_cli.ok("search", "window seats").stdout
    assert "Alice prefers window seats" in table


def test_search_modes_and_mmr(store_cli: Cli) -> None:
    locker = add(store_cli, "The gym locker code is 5810")
    add(store_cli, "Went to the gym on Monday")
    for mode in ("hybrid", "vector", "keyword"):
        result = json.loads(store_cli.ok("search", "locker 5810", "--mode", mode, "--json").stdout)
        assert result["mode"] == mode
        assert result["hits"][0]["memory"]["id"] == locker
    keyword = json.loads(store_cli.ok("search", "5810", "--mode", "keyword", "--json").stdout)
    assert [hit["memory"]["id"] for hit in keyword["hits"]] == [locker]
    diverse = json.loads(store_cli.ok("search", "gym", "--mmr", "--json").stdout)
    assert len(diverse["hits"]) == 2
    bad = store_cli("search", "x", "--mode", "fuzzy")
    assert bad.returncode == 2
    assert "--mode" in bad.stderr


def test_bad_where_unknown_option_and_limits_are_usage_errors(store_cli: Cli) -> None:
    bad_json = store_cli("search", "x", "--where", "{bad")
    assert bad_json.returncode == 2
    assert "--where is not valid JSON" in bad_json.stderr and "column 2" in bad_json.stderr
    unknown_field = store_cli("search", "x", "--where", '{"colour": "red"}')
    assert unknown_field.returncode == 2
    assert "colour" in unknown_field.stderr
    unknown_option = store_cli("search", "x", "--bogus")
    assert unknown_option.returncode == 2
    assert "--bogus" in unknown_option.stderr
    too_many = store_cli("search", "x", "--top-k", "100000")
    assert too_many.returncode == 2
    assert "max_top_k" in too_many.stderr
    bad_meta = store_cli("add", "x", "--meta", "novalue")
    assert bad_meta.returncode == 2
    assert "key=value" in bad_meta.stderr
    empty = store_cli("add", input="")
    assert empty.returncode == 2


def test_list_pages_with_a_cursor(store_cli: Cli) -> None:
    ids = [add(store_cli, f"memory number {n}") for n in range(5)]
    first = store_cli.ok("list", "--limit", "2", "--order", "created_asc")
    assert "more: --cursor" in first.stderr
    page = json.loads(store_cli.ok("list", "--limit", "2", "--order", "created_asc", "--json").stdout)
    assert [m["id"] for m in page["items"]] == ids[:2]
    seen = [m["id"] for m in page["items"]]
    while page["next_cursor"]:
        more = store_cli.ok("list", "-n", "2", "--order", "created_asc", "--cursor", page["next_cursor"], "--json")
        page = json.loads(more.stdout)
        seen += [m["id"] for m in page["items"]]
    assert seen == ids
    empty = store_cli("list", "--where", '{"tags": {"any": ["none-such"]}}')
    assert empty.returncode == 1


def test_update_keeps_history_and_delete_counts(store_cli: Cli) -> None:
    memory_id = add(store_cli, "Carol drinks tea", "-t", "food")
    changed = store_cli.ok("update", memory_id, "--text", "Carol drinks green tea", "-m", "cups=2", "--json")
    updated = json.loads(changed.stdout)
    assert updated["version"] == 2 and updated["metadata"] == {"cups": 2} and updated["tags"] == ["food"]
    cleared = json.loads(store_cli.ok("update", memory_id, "--clear-tags", "--json").stdout)
    assert cleared["tags"] == []
    versions = json.loads(store_cli.ok("history", memory_id, "--json").stdout)
    assert [v["text"] for v in versions] == ["Carol drinks tea", "Carol drinks green tea", "Carol drinks green tea"]
    nothing = store_cli("update", memory_id)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    assert json.loads(store_cli.ok("delete", memory_id, "--json").stdout) == {"deleted": 1}
    again = store_cli("delete", memory_id)
    assert again.returncode == 1
    assert store_cli("history", memory_id).returncode == 1


def test_delete_by_filter_needs_yes(store_cli: Cli) -> None:
    for n in range(3):
        add(store_cli, f"draft {n}", "-t", "draft")
    keep = add(store_cli, "final version", "-t", "final")
    where = '{"tags": {"any": ["draft"]}}'
    refused = store_cli("delete", "--where", where)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert store_cli.ok("delete", "--where", where, "--yes").stdout.strip() == "deleted 3"
    remaining = json.loads(store_cli.ok("list", "--json").stdout)["items"]
    assert [m["id"] for m in remaining] == [keep]


def test_scoping_keeps_users_apart(store_cli: Cli) -> None:
    alice = add(store_cli, "Alice's locker code is 4711", "-u", "alice")
    bob = add(store_cli, "Bob's locker code is 1234", "-u", "bob")
    hits = json.loads(store_cli.ok("search", "locker code", "-u", "alice", "--json").stdout)["hits"]
    assert [h["memory"]["id"] for h in hits] == [alice]
    assert store_cli("get", bob, "-u", "alice").returncode == 1
    assert store_cli("delete", bob, "-u", "alice").returncode == 1
    assert store_cli.ok("get", bob, "-u", "bob")
    from_env = json.loads(store_cli.ok("list", "--json", env={"MEMORYLINK_USER_ID": "bob"}).stdout)["items"]
    assert [m["id"] for m in from_env] == [bob]


def test_debug_shows_the_traceback(store_cli: Cli) -> None:
    plain = store_cli("get", "nope")
    assert "Traceback" not in plain.stderr
    debug = store_cli("--debug", "get", "nope")
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "ValidationError" in debug.stderr


def test_python_dash_m_memorylink_and_version(store_cli: Cli) -> None:
    module = [sys.executable, "-m", "memorylink"]
    result = subprocess.run([*module, "--version"], capture_output=True, text=True, env=store_cli.env, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("memorylink ")
    listed = subprocess.run([*module, "list", "--json"], capture_output=True, text=True, env=store_cli.env, timeout=60)
    assert listed.returncode == 1 and json.loads(listed.stdout)["items"] == []


def test_shell_completion_offers_commands(store_cli: Cli) -> None:
    result = store_cli(env={"_MEMORYLINK_COMPLETE": "complete_bash", "COMP_WORDS": "memorylink se", "COMP_CWORD": "1"})
    assert result.returncode == 0
    assert "search" in result.stdout.split()
    script = store_cli("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert "_memorylink_completion" in script.stdout + script.stderr


def test_the_default_store_is_a_private_per_user_directory(cli: Cli, tmp_path: Path) -> None:
    created = cli.ok("init", "--embedder", "hashing", "--json", env={"MEMORYLINK_STORE": None})
    expected = tmp_path / "home" / "data" / "memorylink" / "store"
    assert Path(json.loads(created.stdout)["path"]) == expected
    assert stat.S_IMODE(expected.stat().st_mode) == 0o700
    explicit = cli.ok("--store", str(tmp_path / "elsewhere"), "init", "--embedder", "hashing", "--json")
    assert Path(json.loads(explicit.stdout)["path"]) == tmp_path / "elsewhere"
