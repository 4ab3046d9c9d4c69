"""The events section of docs/server.md names every StreamSettings field with its default."""

from __future__ import annotations

import re
from pathlib import Path

from memorylink.server.streams import StreamSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def section() -> str:
    return DOC.read_text().split("## Events: SSE and WebSocket", 1)[1].split("\n## ", 1)[0]


def test_every_stream_setting_is_documented_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| `?([^|`]+?)`? \|", section(), re.MULTILINE))
    defaults = StreamSettings()
    for name in StreamSettings.model_fields:
        assert name in rows, name
        documented = rows[name]
        actual = getattr(defaults, name)
        assert documented == str(actual) or float(documented) == actual, (name, documented, actual)


def test_every_close_code_the_socket_uses_is_documented() -> None:
    from memorylink.server.streams.ws import CLOSE_CODES

    text = section()
    for code in {*CLOSE_CODES.values(), 1008, 1009, 1011, 1012}:
        assert str(code) in text, code
