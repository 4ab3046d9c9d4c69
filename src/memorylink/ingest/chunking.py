"""Splitting a file's text into chunks that follow its structure.

Every chunker returns :class:`Chunk` objects whose ``text`` is exactly lines
``start_line..end_line`` (1-based, inclusive) of the file, blank lines trimmed at both
ends, except that a single line longer than the limit is cut into pieces of it. Chunks
come in file order, never overlap (except the ``overlap_lines`` a line-window split
repeats between its windows), cover every non-blank line, and are never longer than
``max_chars``:

* Markdown: one chunk per section (heading to next heading, the heading path kept);
  a section too long is packed by paragraphs (fenced code blocks stay whole), and a
  heading with nothing under it but a subsection joins that subsection.
* Plain text (and unknown formats): paragraphs packed up to ``max_chars``.
* Python: top-level functions and classes via :mod:`ast` (decorators, docstrings and the
  comment lines right above included); a class too long is split into its header and
  its methods; the code between definitions is packed by paragraphs.
* JavaScript / TypeScript, Go, Rust, Java, Kotlin, C#, Swift, PHP, Scala, C / C++, shell,
  Ruby and Lua: a brace- (or ``end``-) aware heuristic finds definitions, see
  :mod:`memorylink.ingest.code`.
* Anything still too long: windows of whole lines (``overlap_lines`` repeated between
  windows).

Line numbers are those of the text after ``\\r\\n`` and lone ``\\r`` became ``\\n``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_OVERLAP_LINES", "Chunk", "chunk_text", "split_lines"]

DEFAULT_CHUNK_SIZE = 1_500
"""Characters a chunk aims to stay under (all-MiniLM-L6-v2 reads about 1,000-1,500 characters)."""
DEFAULT_OVERLAP_LINES = 2
"""Lines a line-window split repeats at the start of the next window, for context."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a file: its text, where it is, and what it is.

    Attributes:
        text: Lines ``start_line..end_line`` of the file, joined with ``\\n``.
        start_line: First line (1-based).
        end_line: Last line (inclusive).
        kind: ``section`` (Markdown), ``paragraph`` (text), ``function``, ``class``,
            ``method``, ``type``, ``impl``, ``module`` (code between definitions) or ``lines``.
        symbol: The definition's name for code (``Class.method`` for a method), else None.
        heading_path: The Markdown headings above this chunk, outermost first.
        part: 1, 2, ... when a definition or section was too long and split by lines.
    """

    text: str
    start_line: int
    end_line: int
    kind: str
    symbol: str | None = None
    heading_path: tuple[str, ...] = ()
    part: int | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A line range (1-based, inclusive) with what it is; chunkers cut a file into these."""

    start: int
    end: int
    kind: str
    symbol: str | None = None
    heading_path: tuple[str, ...] = ()


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def chunk_text(
    text: str,
    language: str,
    *,
    max_chars: int = DEFAULT_CHUNK_SIZE,
    overlap_lines: int = DEFAULT_OVERLAP_LINES,
) -> list[Chunk]:
    """Split ``text`` (the whole file) into chunks for ``language`` (see the module docstring).

    Raises:
        ValueError: ``max_chars`` < 1 or ``overlap_lines`` < 0.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if overlap_lines < 0:
        raise ValueError("overlap_lines must not be negative")
    lines = normalise_newlines(text).split("\n")
    if language == "markdown":
        segments = markdown_segments(lines)
    elif language == "python":
        from memorylink.ingest.code import python_segments

        found = python_segments(lines, max_chars)
        segments = found if found is not None else [Segment(1, len(lines), "module")]
    else:
        from memorylink.ingest.code import code_segments

        found = code_segments(lines, language, max_chars)
        segments = found if found is not None else [Segment(1, len(lines), "paragraph")]
    chunks: list[Chunk] = []
    for segment in segments:
        chunks.extend(emit(lines, segment, max_chars, overlap_lines))
    return chunks


def emit(lines: Sequence[str], segment: Segment, max_chars: int, overlap_lines: int) -> list[Chunk]:
    """Chunks for one segment: itself if it fits, else packed paragraphs, else line windows."""
    start, end = trim(lines, segment.start, segment.end)
    if start > end:
        return []
    text = "\n".join(lines[start - 1 : end])
    if len(text) <= max_chars:
        return [Chunk(text, start, end, segment.kind, segment.symbol, segment.heading_path)]
    if segment.kind in ("section", "paragraph", "module"):
        packed = pack_blocks(lines, start, end, max_chars, fenced=segment.kind == "section")
        if len(packed) > 1:
            chunks: list[Chunk] = []
            for block_start, block_end in packed:
                chunks.extend(emit(lines, _with_range(segment, block_start, block_end), max_chars, overlap_lines))
            return chunks
    return split_lines(lines, start, end, max_chars, overlap_lines, segment)


def _with_range(segment: Segment, start: int, end: int) -> Segment:
    return Segment(start, end, segment.kind, segment.symbol, segment.heading_path)


def trim(lines: Sequence[str], start: int, end: int) -> tuple[int, int]:
    """The range without its leading and trailing blank lines (start > end if all blank)."""
    while start <= end and not lines[start - 1].strip():
        start += 1
    while end >= start and not lines[end - 1].strip():
        end -= 1
    return start, end


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def blocks(lines: Sequence[str], start: int, end: int, *, fenced: bool) -> list[tuple[int, int]]:
    """Runs of non-blank lines in ``start..end``; with ``fenced``, a Markdown code fence is one block."""
    found: list[tuple[int, int]] = []
    number = start
    while number <= end:
        if not lines[number - 1].strip():
            number += 1
            continue
        first = number
        fence: str | None = None
        while number <= end:
            line = lines[number - 1]
            if fence is None and not line.strip():
                break
            if fenced:
                match = _FENCE.match(line)
                if match is not None:
                    marker = match.group(1)
                    if fence is None:
                        fence = marker
                    elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :]:
                        fence = None
            number += 1
        found.append((first, number - 1 if number - 1 >= first else first))
    return [trim(lines, a, b) for a, b in found]


def pack_blocks(lines: Sequence[str], start: int, end: int, max_chars: int, *, fenced: bool) -> list[tuple[int, int]]:
    """Consecutive blocks joined while the joined range stays within ``max_chars``.

    A first block that is a lone heading line always joins the block after it.
    """
    groups: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for block in blocks(lines, start, end, fenced=fenced):
        if current is None:
            current = block
            continue
        joined = (current[0], block[1])
        lone_heading = current[0] == current[1] and _ATX.match(lines[current[0] - 1]) is not None
        if _length(lines, *joined) <= max_chars or (fenced and lone_heading and not groups):
            current = joined
        else:
            groups.append(current)
            current = block
    if current is not None:
        groups.append(current)
    return groups


def _length(lines: Sequence[str], start: int, end: int) -> int:
    return sum(len(lines[n - 1]) for n in range(start, end + 1)) + (end - start)


def split_lines(
    lines: Sequence[str],
    start: int,
    end: int,
    max_chars: int,
    overlap_lines: int,
    segment: Segment | None = None,
) -> list[Chunk]:
    """Windows of whole lines within ``max_chars``, each repeating ``overlap_lines`` of the last.

    A line longer than ``max_chars`` is cut into pieces of ``max_chars`` characters.
    """
    kind = segment.kind if segment is not None else "lines"
    symbol = segment.symbol if segment is not None else None
    path = segment.heading_path if segment is not None else ()
    chunks: list[Chunk] = []

    def add(text: str, first: int, last: int) -> None:
        chunks.append(Chunk(text, first, last, kind, symbol, path, len(chunks) + 1))

    number = start
    previous_end = start - 1
    while number <= end:
        line = lines[number - 1]
        if len(line) > max_chars:
            for offset in range(0, len(line), max_chars):
                piece = line[offset : offset + max_chars]
                if piece.strip():
                    add(piece, number, number)
            previous_end = number
            number += 1
            continue
        last = number
        size = len(line)
        while last < end and size + 1 + len(lines[last]) <= max_chars:
            size += 1 + len(lines[last])
            last += 1
        if last <= previous_end:  # the overlap left no room for a new line: start after it instead
            number = previous_end + 1
            continue
        first, final = trim(lines, number, last)
        if first <= final:
            add("\n".join(lines[first - 1 : final]), first, final)
        previous_end = last
        if last >= end:
            break
        # Repeat at most half the window, so a small window still moves on.
        number = max(last + 1 - min(overlap_lines, (last - number + 1) // 2), number + 1)
    return chunks


# -- Markdown ------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MAX_HEADING_CHARS = 200


def markdown_segments(lines: Sequence[str]) -> list[Segment]:
    """One segment per section, with its heading path; childless empty headings join their child."""
    headings: list[tuple[int, int, str, int]] = []  # (first line, level, title, heading line count)
    fence: str | None = None
    number = 1
    while number <= len(lines):
        line = lines[number - 1]
        match = _FENCE.match(line)
        if match is not None:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip()[len(marker) :]:
                fence = None
            number += 1
            continue
        if fence is None:
            atx = _ATX.match(line)
            if atx is not None:
                headings.append((number, len(atx.group(1)), (atx.group(2) or "").strip(), 1))
            elif (
                number < len(lines)
                and line.strip()
                and _SETEXT.match(lines[number])
                and not _is_block_start(line)
                and (number == 1 or not lines[number - 2].strip())
            ):
                level = 1 if lines[number].strip().startswith("=") else 2
                headings.append((number, level, line.strip(), 2))
                number += 2
                continue
        number += 1
    segments: list[Segment] = []
    if not headings or headings[0][0] > 1:
        segments.append(Segment(1, headings[0][0] - 1 if headings else len(lines), "section"))
    stack: list[tuple[int, str]] = []
    pending_start: int | None = None
    for position, (first, level, title, height) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title[:_MAX_HEADING_CHARS]))
        last = headings[position + 1][0] - 1 if position + 1 < len(headings) else len(lines)
        start = pending_start if pending_start is not None else first
        pending_start = None
        body_empty = trim(lines, first + height, last)[0] > trim(lines, first + height, last)[1]
        next_is_child = position + 1 < len(headings) and headings[position + 1][1] > level
        if body_empty and next_is_child:
            pending_start = start
            continue
        segments.append(Segment(start, last, "section", heading_path=tuple(t for _, t in stack)))
    return segments


def _is_block_start(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("- ", "* ", "+ ", ">", "|")) or bool(re.match(r"\d+[.)] ", stripped))
