"""Walking a directory for ingest: ``.gitignore``-aware, hidden files skipped, no escape by symlink.

Rules, in order, for every entry under the root:

1. ``.git`` is never entered; names starting with ``.`` are skipped unless ``include_hidden``.
2. A symlink is followed only to a file inside the root (the resolved target is checked);
   a symlink to a directory is not entered (its target, when inside the root, is walked
   anyway), and one pointing outside the root is reported as skipped.
3. With ``respect_gitignore``, the ``.gitignore`` files of the root, of every directory
   below it, and of its parent directories up to the enclosing git work tree (the nearest
   ancestor holding ``.git``) apply as git applies them: patterns are relative to the
   directory of their file, a deeper file overrides a shallower one, ``!pattern``
   re-includes, and nothing under an ignored directory is re-included. A root that its
   parents' ``.gitignore`` files ignore (``build/``, say) was asked for by name: only its
   own and its subdirectories' ``.gitignore`` files apply.
4. ``exclude`` patterns (``.gitignore`` syntax, relative to the root) drop files and
   directories; when ``include`` patterns are given a file must match one of them.

Files are yielded sorted by path, so a walk is deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

__all__ = ["WalkEntry", "walk"]


@dataclass(frozen=True)
class WalkEntry:
    """A file the walk found (``skipped`` set when a rule, not a pattern, left it out)."""

    path: Path
    relative: str
    """Posix path relative to the root."""
    skipped: str | None = None


def _spec(lines: Sequence[str]) -> GitIgnoreSpec:
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(lines)


def _read_gitignore(directory: Path) -> GitIgnoreSpec | None:
    path = directory / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None
    return _spec(text.splitlines())


def _ancestor_ignores(root: Path) -> list[tuple[Path, GitIgnoreSpec]]:
    """The ``.gitignore`` files above ``root`` within its git work tree, outermost first."""
    if (root / ".git").exists():
        return []  # the root is the top of its work tree
    chain: list[Path] = []
    for parent in root.parents:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a work tree: parent directories' ignore files do not apply
    found: list[tuple[Path, GitIgnoreSpec]] = []
    for directory in reversed(chain):
        spec = _read_gitignore(directory)
        if spec is not None:
            found.append((directory, spec))
    if _ignored(found, root, True):
        return []  # the caller asked for an ignored directory by name: read it, by its own rules
    return found


def _ignored(ignores: Sequence[tuple[Path, GitIgnoreSpec]], path: Path, is_dir: bool) -> bool:
    decision = False
    for base, spec in ignores:
        relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        result = spec.check_file(relative).include
        if result is not None:
            decision = result
    return decision


def walk(
    root: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    respect_gitignore: bool = True,
    include_hidden: bool = False,
) -> Iterator[WalkEntry]:
    """Files under ``root`` (a directory) by the rules in the module docstring."""
    root = root.resolve()
    include_spec = _spec(include) if include else None
    exclude_spec = _spec(exclude) if exclude else None
    ignores = _ancestor_ignores(root) if respect_gitignore else []
    yield from _walk_dir(root, root, ignores, include_spec, exclude_spec, respect_gitignore, include_hidden)


def _walk_dir(
    root: Path,
    directory: Path,
    ignores: list[tuple[Path, GitIgnoreSpec]],
    include_spec: GitIgnoreSpec | None,
    exclude_spec: GitIgnoreSpec | None,
    respect_gitignore: bool,
    include_hidden: bool,
) -> Iterator[WalkEntry]:
    if respect_gitignore:
        own = _read_gitignore(directory)
        if own is not None:
            ignores = [*ignores, (directory, own)]
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        if entry.name == ".git" or (entry.name.startswith(".") and not include_hidden):
            continue
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_link:
            try:
                target = path.resolve(strict=True)
            except (OSError, RuntimeError):
                yield WalkEntry(path, relative, skipped="broken symlink")
                continue
            if not target.is_relative_to(root):
                yield WalkEntry(path, relative, skipped="symlink outside the root")
                continue
            if target.is_dir():
                continue
            is_dir = False
        if respect_gitignore and _ignored(ignores, path, is_dir):
            continue
        if exclude_spec is not None and exclude_spec.match_file(relative + ("/" if is_dir else "")):
            continue
        if is_dir:
            yield from _walk_dir(root, path, ignores, include_spec, exclude_spec, respect_gitignore, include_hidden)
            continue
        if not (is_link or entry.is_file(follow_symlinks=False)):
            continue  # a socket, fifo or device
        if include_spec is not None and not include_spec.match_file(relative):
            continue
        yield WalkEntry(path, relative)
