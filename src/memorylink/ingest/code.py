"""Finding definitions in source code: :mod:`ast` for Python, a lexer-backed heuristic for the rest.

Both produce :class:`~memorylink.ingest.chunking.Segment` lists that tile the file:
definitions (with the decorators / attributes / annotations and comment lines right
above them) and the code between them (kind ``module``). A definition longer than the
chunk limit that has a body of members (a class, an ``impl``, a Ruby module) is split
into its header and its members.

The heuristic for brace languages scans the text once with a small lexer that skips
strings, character literals and comments, so braces inside them do not count. A line
at brace depth *d* starts a definition when it matches one of the language's
definition patterns (``function f``, ``class C``, ``fn f``, ``func f``, ``impl X``, ...)
or, in C-like languages, looks like ``type name(...)``, and a ``{`` at depth *d* follows
before any ``;`` (the signature may span lines while parentheses are open); the
definition ends on the line where the depth returns to *d*. Ruby and Lua definitions end
at the ``end`` indented like their first line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memorylink.ingest.chunking import Segment

__all__ = ["code_segments", "python_segments"]

_Def = tuple[int, int, str, str]  # (start, end, kind, name)

_CONTROL = frozenset(
    [
        "if",
        "for",
        "while",
        "switch",
        "catch",
        "return",
        "sizeof",
        "else",
        "do",
        "try",
        "with",
        "foreach",
        "using",
        "lock",
        "synchronized",
        "elif",
        "until",
        "unless",
        "throw",
        "await",
        "typeof",
        "delete",
        "assert",
        "defined",
        "match",
        "case",
        "when",
        "loop",
        "select",
        "go",
        "defer",
        "yield",
        "print",
    ]
)


# -- shared layout ---------------------------------------------------------------------


def _layout(
    lo: int,
    hi: int,
    defs: Sequence[_Def],
    filler_kind: str,
    filler_symbol: str | None,
    split: Callable[[_Def], list[Segment] | None],
) -> list[Segment]:
    """Segments tiling ``lo..hi``: each definition (or its split), and fillers for the gaps."""
    segments: list[Segment] = []
    cursor = lo
    for definition in defs:
        start, end, kind, name = definition
        if start > cursor:
            segments.append(Segment(cursor, start - 1, filler_kind, filler_symbol))
        parts = split(definition)
        segments.extend(parts if parts is not None else [Segment(start, end, kind, name)])
        cursor = end + 1
    if cursor <= hi:
        segments.append(Segment(cursor, hi, filler_kind, filler_symbol))
    return segments


def _size(lines: Sequence[str], start: int, end: int) -> int:
    return sum(len(lines[n - 1]) + 1 for n in range(start, end + 1))


def _extend_up(lines: Sequence[str], start: int, floor: int, is_lead: Callable[[str], bool]) -> int:
    """Move ``start`` up over the comment / attribute lines right above it (not past ``floor``)."""
    while start - 1 >= floor and lines[start - 2].strip() and is_lead(lines[start - 2].strip()):
        start -= 1
    return start


# -- Python ----------------------------------------------------------------------------

_PY_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def python_segments(lines: Sequence[str], max_chars: int) -> list[Segment] | None:
    """Segments of a Python module, or None when it does not parse (the caller falls back)."""
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError):
        return None
    return _python_body(lines, tree.body, 1, len(lines), "", max_chars, "module", None)


def _python_defs(lines: Sequence[str], body: Sequence[ast.stmt], floor: int, prefix: str) -> list[_Def]:
    defs: list[_Def] = []
    for node in body:
        if not isinstance(node, _PY_DEFS) or node.end_lineno is None:
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        previous_end = defs[-1][1] if defs else floor - 1
        start = _extend_up(lines, start, previous_end + 1, lambda s: s.startswith("#"))
        kind = "class" if isinstance(node, ast.ClassDef) else ("method" if prefix else "function")
        defs.append((start, node.end_lineno, kind, prefix + node.name))
    return defs


def _python_body(
    lines: Sequence[str],
    body: Sequence[ast.stmt],
    lo: int,
    hi: int,
    prefix: str,
    max_chars: int,
    filler_kind: str,
    filler_symbol: str | None,
) -> list[Segment]:
    nodes = {prefix + n.name: n for n in body if isinstance(n, ast.ClassDef)}

    def split(definition: _Def) -> list[Segment] | None:
        start, end, _, name = definition
        node = nodes.get(name)
        if node is None or _size(lines, start, end) <= max_chars:
            return None
        if not any(isinstance(child, _PY_DEFS) for child in node.body):
            return None
        return _python_body(lines, node.body, start, end, name + ".", max_chars, "class", name)

    return _layout(lo, hi, _python_defs(lines, body, lo, prefix), filler_kind, filler_symbol, split)


# -- the lexer-backed heuristic ----------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    slash_comments: bool = True
    hash_comments: bool = False
    quotes: str = "\"'"
    multiline_quotes: str = ""
    rust_chars: bool = False
    generic: bool = True  # C-like "type name(...) {" definitions
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()
    end_based: bool = False


def _p(pattern: str, kind: str) -> tuple[re.Pattern[str], str]:
    return re.compile(pattern), kind


_JS = _Family(
    quotes="\"'`",
    multiline_quotes="`",
    generic=False,
    patterns=(
        _p(r"^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[\w$]+)", "function"),
        _p(r"^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+(?P<name>[\w$]+)", "class"),
        _p(
            r"^(?:export\s+)?(?:declare\s+)?(?:const\s+)?(?:interface|enum|namespace|module)\s+(?P<name>[\w$.]+)",
            "type",
        ),
        _p(r"^(?:export\s+)?type\s+(?P<name>[\w$]+)[^=]*=\s*\{", "type"),
        _p(
            r"^(?:export\s+)?(?:const|let|var)\s+(?P<name>[\w$]+)\s*(?::[^=]+)?=\s*(?:async\s+)?"
            r"(?:function\b|\([^)]*\)?|[\w$]+\s*=>)",
            "function",
        ),
    ),
)
_JS_MEMBERS = (
    _p(
        r"^(?:(?:public|private|protected|static|readonly|async|override|abstract|get|set)\s+)*\*?"
        r"(?P<name>#?[\w$]+)\s*(?:<[^>]*>)?\s*\(",
        "method",
    ),
    _p(r"^(?:(?:public|private|protected|static|readonly)\s+)*(?P<name>#?[\w$]+)\s*=\s*(?:async\s+)?\(", "method"),
)
_GO = _Family(
    quotes="\"'`",
    multiline_quotes="`",
    generic=False,
    patterns=(
        _p(r"^func\s+(?:\((?P<recv>[^)]*)\)\s*)?(?P<name>\w+)", "function"),
        _p(r"^type\s+(?P<name>\w+)", "type"),
    ),
)
_RUST = _Family(
    quotes='"',
    rust_chars=True,
    generic=False,
    patterns=(
        _p(
            r"^(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|unsafe|const|default|extern(?:\s+\"[^\"]*\")?)\s+)*"
            r"fn\s+(?P<name>\w+)",
            "function",
        ),
        _p(r"^(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:struct|enum|trait|union|mod)\s+(?P<name>\w+)", "type"),
        _p(r"^(?:unsafe\s+)?impl\b(?:\s*<[^>]*>)?\s*(?P<name>[^{]+?)\s*(?:\{|$)", "impl"),
        _p(r"^macro_rules!\s*(?P<name>\w+)", "function"),
    ),
)
_CLASSLIKE = _p(
    r"^(?:[\w@]+(?:\([^)]*\))?\s+)*?(?:class|interface|enum|record|struct|object|trait|protocol|extension|namespace|union)"
    r"\s+(?P<name>[\w.:]+)",
    "class",
)
_C_LIKE = _Family(patterns=(_CLASSLIKE,))
_KOTLIN = _Family(
    quotes="\"'",
    patterns=(_CLASSLIKE, _p(r"^(?:[\w@]+\s+)*?fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?(?P<name>\w+)", "function")),
)
_SWIFT = _Family(patterns=(_CLASSLIKE, _p(r"^(?:[\w@]+\s+)*?func\s+(?P<name>\w+)", "function")))
_SCALA = _Family(patterns=(_CLASSLIKE, _p(r"^(?:[\w@]+\s+)*?def\s+(?P<name>\w+)", "function")))
_PHP = _Family(
    hash_comments=True,
    patterns=(
        _CLASSLIKE,
        _p(r"^(?:(?:public|private|protected|static|final|abstract)\s+)*function\s+&?(?P<name>\w+)", "function"),
    ),
)
_SHELL = _Family(
    slash_comments=False,
    hash_comments=True,
    generic=False,
    patterns=(
        _p(r"^function\s+(?P<name>[\w.:-]+)", "function"),
        _p(r"^(?P<name>[\w.:-]+)\s*\(\s*\)", "function"),
    ),
)
_RUBY = _Family(
    end_based=True,
    patterns=(
        _p(r"^def\s+(?P<name>(?:self\.)?[\w.?!=\[\]+\-*/<>%~]+)", "function"),
        _p(r"^(?:class|module)\s+(?P<name>[\w:]+)", "class"),
    ),
)
_LUA = _Family(end_based=True, patterns=(_p(r"^(?:local\s+)?function\s+(?P<name>[\w.:]+)", "function"),))

_FAMILIES: dict[str, _Family] = {
    "javascript": _JS,
    "typescript": _JS,
    "go": _GO,
    "rust": _RUST,
    "java": _C_LIKE,
    "csharp": _C_LIKE,
    "c": _C_LIKE,
    "cpp": _C_LIKE,
    "kotlin": _KOTLIN,
    "swift": _SWIFT,
    "scala": _SCALA,
    "php": _PHP,
    "shell": _SHELL,
    "ruby": _RUBY,
    "lua": _LUA,
}

_PREFIX_STOP = _CONTROL | {"new"}  # "new Foo(...)" constructs, it does not define
_GENERIC = re.compile(r"^(?P<prefix>[^=;{}()\"']*?)(?<![.\w>])(?P<name>[A-Za-z_~][\w:~]*)\s*\(")
_RUST_CHAR = re.compile(r"'(?:\\.[^']*|[^'\\])'")
_CONTINUATION = (")", ":", "->", "throws", "where", "extends", "implements", "const", "override", "noexcept", ",", "{")


def code_segments(lines: Sequence[str], language: str, max_chars: int) -> list[Segment] | None:
    """Segments of a source file in ``language``, or None for a language with no heuristic."""
    family = _FAMILIES.get(language)
    if family is None:
        return None
    if family.end_based:
        return _end_based(lines, family, 1, len(lines), "", 0, max_chars, "module", None)
    tokens = _lex(lines, family)
    depth = [0] * (len(lines) + 2)
    for number, line_tokens in enumerate(tokens, start=1):
        level = depth[number]
        for token in line_tokens:
            if token == "{":
                level += 1
            elif token == "}":
                level = max(0, level - 1)
        depth[number + 1] = level
    patterns = family.patterns
    return _brace_body(lines, tokens, depth, family, patterns, 1, len(lines), 0, "", max_chars, "module", None)


def _lex(lines: Sequence[str], family: _Family) -> list[list[str]]:
    """Per line, the ``{ } ( ) ;`` outside strings, character literals and comments."""
    out: list[list[str]] = []
    state: str | None = None  # "/*" inside a block comment, or the quote of an open multi-line string
    for line in lines:
        found: list[str] = []
        i = 0
        n = len(line)
        while i < n:
            if state == "/*":
                close = line.find("*/", i)
                if close < 0:
                    i = n
                    break
                state = None
                i = close + 2
                continue
            if state is not None:
                i = _string_end(line, i, state)
                if i < 0:
                    i = n
                    break
                state = None
                continue
            c = line[i]
            two = line[i : i + 2]
            if family.slash_comments and two == "//":
                break
            if family.slash_comments and two == "/*":
                state = "/*"
                i += 2
                continue
            if family.hash_comments and c == "#" and (i == 0 or line[i - 1] in " \t;"):
                break
            if c == "'" and family.rust_chars:
                match = _RUST_CHAR.match(line, i)
                i = match.end() if match else i + 1  # a lifetime ('a) is no literal
                continue
            if c in family.quotes:
                end = _string_end(line, i + 1, c)
                if end < 0:
                    if c in family.multiline_quotes:
                        state = c
                    i = n
                    break
                i = end
                continue
            if c in "{}();":
                found.append(c)
            i += 1
        out.append(found)
    return out


def _string_end(line: str, i: int, quote: str) -> int:
    """The index after the closing ``quote`` from ``i`` (backslash escapes), or -1."""
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    return -1


def _brace_body(
    lines: Sequence[str],
    tokens: Sequence[Sequence[str]],
    depth: Sequence[int],
    family: _Family,
    patterns: Sequence[tuple[re.Pattern[str], str]],
    lo: int,
    hi: int,
    level: int,
    prefix: str,
    max_chars: int,
    filler_kind: str,
    filler_symbol: str | None,
) -> list[Segment]:
    defs: list[_Def] = []
    number = lo
    while number <= hi:
        if depth[number] != level or not lines[number - 1].strip():
            number += 1
            continue
        found = _match_definition(lines[number - 1].strip(), family, patterns, member=bool(prefix))
        end = _brace_end(lines, tokens, depth, number, hi, level) if found is not None else None
        if found is None or end is None:
            number += 1
            continue
        kind, name = found
        floor = defs[-1][1] + 1 if defs else lo
        start = _extend_up(lines, number, floor, _is_lead)
        defs.append((start, end, "method" if prefix and kind == "function" else kind, prefix + name))
        number = end + 1

    def split(definition: _Def) -> list[Segment] | None:
        start, end, kind, name = definition
        if kind not in ("class", "impl", "type") or _size(lines, start, end) <= max_chars:
            return None
        members = _JS_MEMBERS if family is _JS else family.patterns
        inner = _brace_body(
            lines, tokens, depth, family, members, start, end, level + 1, name + ".", max_chars, kind, name
        )
        return inner if any(segment.kind != kind for segment in inner) else None

    return _layout(lo, hi, defs, filler_kind, filler_symbol, split)


def _match_definition(
    stripped: str, family: _Family, patterns: Sequence[tuple[re.Pattern[str], str]], *, member: bool
) -> tuple[str, str] | None:
    for pattern, kind in patterns:
        match = pattern.match(stripped)
        if match is not None:
            name = match.group("name").strip()
            if name in _CONTROL:
                return None
            if "recv" in pattern.groupindex and match.group("recv"):
                receiver = match.group("recv").split()[-1].lstrip("*")
                name = f"{receiver}.{name}"
            return kind, name
    if family.generic or member:
        match = _GENERIC.match(stripped)
        if match is not None and match.group("name") not in _CONTROL:
            words = match.group("prefix").split()
            if (words or member or "::" in match.group("name")) and not (set(words) & _PREFIX_STOP):
                return "function", match.group("name")
    return None


def _brace_end(
    lines: Sequence[str], tokens: Sequence[Sequence[str]], depth: Sequence[int], start: int, hi: int, level: int
) -> int | None:
    """The line closing the body a definition at ``start`` opens, or None if it opens none."""
    parens = 0
    current = level
    opened = False
    number = start
    while number <= hi:
        for token in tokens[number - 1]:
            if token == "(":
                parens += 1
            elif token == ")":
                parens = max(0, parens - 1)
            elif token == ";" and current == level and parens == 0 and not opened:
                return None
            elif token == "{":
                current += 1
                opened = True
            elif token == "}":
                current -= 1
                if opened and current == level:
                    return number
        if not opened:
            following = lines[number].strip() if number < len(lines) else ""
            continues = (
                parens > 0
                or following.startswith(_CONTINUATION)
                or lines[number - 1].rstrip().endswith((",", "(", "=>", "="))
            )
            if not continues or number - start > 12:
                return None
        number += 1
    return None


def _is_lead(stripped: str) -> bool:
    """A comment, attribute, annotation or decorator line that belongs to the definition below it."""
    return stripped.startswith(("//", "/*", "*", "#[", "@", "#!", "--")) or (
        stripped.startswith("#") and not stripped.startswith(("#include", "#define", "#if", "#endif", "#else"))
    )


# -- end-based languages (Ruby, Lua) ------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _end_based(
    lines: Sequence[str],
    family: _Family,
    lo: int,
    hi: int,
    prefix: str,
    min_indent: int,
    max_chars: int,
    filler_kind: str,
    filler_symbol: str | None,
) -> list[Segment]:
    candidates: list[tuple[int, int, str, str]] = []  # (line, indent, kind, name)
    for number in range(lo, hi + 1):
        line = lines[number - 1]
        if not line.strip() or _indent(line) < min_indent:
            continue
        found = _match_definition(line.strip(), family, family.patterns, member=False)
        if found is not None:
            candidates.append((number, _indent(line), *found))
    if not candidates:
        return [Segment(lo, hi, filler_kind, filler_symbol)]
    indent = min(c[1] for c in candidates)
    defs: list[_Def] = []
    for number, level, kind, name in candidates:
        if level != indent or (defs and number <= defs[-1][1]):
            continue
        end = _end_line(lines, number, hi, level)
        if end is None:
            continue
        floor = defs[-1][1] + 1 if defs else lo
        start = _extend_up(lines, number, floor, lambda s: s.startswith(("#", "--")))
        defs.append((start, end, "method" if prefix and kind == "function" else kind, prefix + name))

    def split(definition: _Def) -> list[Segment] | None:
        start, end, kind, name = definition
        if kind != "class" or _size(lines, start, end) <= max_chars or end - start < 2:
            return None
        first = next(n for n in range(start, end + 1) if lines[n - 1].strip() and not _is_lead(lines[n - 1].strip()))
        inner = _end_based(lines, family, first + 1, end - 1, name + ".", indent + 1, max_chars, "class", name)
        if not any(segment.kind != "class" for segment in inner):
            return None
        return [Segment(start, first, "class", name), *inner, Segment(end, end, "class", name)]

    return _layout(lo, hi, defs, filler_kind, filler_symbol, split)


def _end_line(lines: Sequence[str], start: int, hi: int, level: int) -> int | None:
    stripped = lines[start - 1].strip()
    if re.search(r"\bend\s*$", stripped) or re.match(r"^def\s+[^(=\s]+(?:\([^)]*\))?\s*=[^=~]", stripped):
        return start  # a one-line (or endless) definition
    for number in range(start + 1, hi + 1):
        line = lines[number - 1]
        if line.strip() and _indent(line) == level and re.match(r"end\b", line.strip()):
            return number
        if line.strip() and _indent(line) < level:
            return None
    return None
