"""Turning command-line strings into the values the store takes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from memorylink.cli._errors import CliUsageError

__all__ = ["parse_meta", "parse_where", "read_text_argument"]


def parse_meta(pairs: Sequence[str] | None, *, option: str = "--meta") -> dict[str, Any] | None:
    """``key=value`` pairs as a dict; a value that is valid JSON (42, true, [1,2], "x") is taken as JSON."""
    if not pairs:
        return None
    metadata: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise CliUsageError(f"{option}: expected key=value, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        metadata[key.strip()] = value
    return metadata


def parse_where(raw: str | None) -> dict[str, Any] | None:
    """The filter language as JSON (docs/filters.md); ``@path`` reads it from a file, ``-`` from stdin."""
    if raw is None:
        return None
    text = raw
    if raw == "-":
        text = sys.stdin.read()
    elif raw.startswith("@"):
        try:
            with open(raw[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise CliUsageError(f"--where: cannot read {raw[1:]}: {error.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliUsageError(
            f"--where is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(value, dict):
        raise CliUsageError(f"--where: expected a JSON object, got {type(value).__name__}")
    return value


def read_text_argument(text: str | None, *, what: str = "TEXT") -> str:
    """The text argument, or stdin when it is omitted or ``-``."""
    if text is not None and text != "-":
        return text
    if sys.stdin.isatty():
        raise CliUsageError(f"give {what} as an argument, or pipe it on stdin")
    value = sys.stdin.read()
    if value.endswith("\n"):
        value = value[:-1]
    return value
