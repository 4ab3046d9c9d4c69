"""``memorylink add --dedupe`` in a subprocess."""

from __future__ import annotations

import json

from cli_helpers import Cli


def test_add_dedupe_keeps_the_existing_memory(store_cli: Cli) -> None:
    first = store_cli.ok("add", "The printer on floor 2 needs toner").stdout.strip()
    again = store_cli.ok("add", "--dedupe", "The printer on floor 2 needs toner")
    assert again.stdout.strip() == first
    assert "nothing stored" in again.stderr
    other = store_cli.ok("add", "--dedupe", "--user-id", "sam", "The printer on floor 2 needs toner")
    assert other.stdout.strip() != first and "nothing stored" not in other.stderr
    fresh = store_cli.ok("add", "--dedupe", "The stapler is empty")
    assert fresh.stdout.strip() != first and fresh.stderr == ""
    listed = json.loads(store_cli.ok("list", "--json").stdout)["items"]
    assert len(listed) == 3
