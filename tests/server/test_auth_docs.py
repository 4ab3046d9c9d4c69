"""docs/server.md documents every auth and rate-limit setting, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from memorylink.server.auth import AuthSettings
from memorylink.server.ratelimit import DEFAULT_LIMITS, RateLimitSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def _section(title: str) -> str:
    return DOC.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_auth_setting_is_documented_with_its_default() -> None:
    section = _section("Authentication and API keys")
    for name, field in AuthSettings.model_fields.items():
        row = re.search(rf"^\| `{name}` \| ([^|]+) \|", section, re.MULTILINE)
        assert row is not None, name
        shown = row.group(1).strip()
        expected = "on" if field.default is True else str(field.default).removesuffix(".0")
        assert shown == expected, (name, shown, field.default)


def test_every_rate_limit_setting_and_default_is_documented() -> None:
    section = _section("Rate limits")
    for name in RateLimitSettings.model_fields:
        assert f"`{name}`" in section, name
    for budget, rate in DEFAULT_LIMITS.items():
        assert re.search(rf"^\| `{budget}` \| [^|]+ \| {re.escape(rate)} \|$", section, re.MULTILINE), budget
