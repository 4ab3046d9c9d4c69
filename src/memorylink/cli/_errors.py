"""Exit codes and the one place that turns errors into a line on stderr."""

from __future__ import annotations

import sys
import traceback
from enum import IntEnum

from memorylink.errors import InvalidKeyError, MemoryLinkError, NotFoundError, ValidationError

__all__ = ["CliUsageError", "ExitCode", "exit_code_for", "report_error"]


class ExitCode(IntEnum):
    """What ``memorylink`` exits with; documented in docs/cli.md."""

    OK = 0
    NOT_FOUND = 1
    """No such memory, or a search / list that matched nothing."""
    USAGE = 2
    """A bad option or argument: unknown option, bad JSON in --where, a limit exceeded, no key given."""
    WRONG_KEY = 3
    """The passphrase or key does not open the store (nothing on disk changed)."""
    ERROR = 4
    """Any other failure: a corrupted record, a missing extra, an embedder mismatch, ..."""
    PARTIAL = 5
    """A batch command finished but some items failed (each is reported on stderr)."""


class CliUsageError(Exception):
    """The command was used wrongly (no store there, no key given, contradicting options)."""


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an error that ended a command."""
    if isinstance(error, InvalidKeyError):
        return ExitCode.WRONG_KEY
    if isinstance(error, NotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(error, ValidationError | CliUsageError):
        return ExitCode.USAGE
    return ExitCode.ERROR


def report_error(error: BaseException, *, debug: bool) -> ExitCode:
    """Write ``error`` to stderr as one readable line (with the traceback when ``debug``)."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    if isinstance(error, MemoryLinkError):
        message = error.message
    elif isinstance(error, CliUsageError):
        message = str(error)
    elif isinstance(error, KeyboardInterrupt):
        message = "interrupted"
    else:
        message = f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)"
    sys.stderr.write(f"memorylink: error: {message}\n")
    return exit_code_for(error)
