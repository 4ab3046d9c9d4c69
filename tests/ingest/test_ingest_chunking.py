"""Chunkers: exact line ranges per language, the length limit, and coverage properties."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.ingest import Chunk, chunk_text


def spans(chunks: list[Chunk]) -> list[tuple[int, int, str, str | None]]:
    return [(c.start_line, c.end_line, c.kind, c.symbol) for c in chunks]


def lines_of(text: str, chunk: Chunk) -> str:
    return "\n".join(text.split("\n")[chunk.start_line - 1 : chunk.end_line])


def check_invariants(text: str, chunks: list[Chunk], max_chars: int, overlap: int = 2) -> None:
    """In order, within the limit, text equal to its lines, every non-blank line covered."""
    source = text.split("\n")
    covered: set[int] = set()
    previous: Chunk | None = None
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(source)
        assert 0 < len(chunk.text) <= max_chars
        assert chunk.text.strip()
        if chunk.start_line == chunk.end_line and chunk.text != source[chunk.start_line - 1]:
            assert chunk.text in source[chunk.start_line - 1]  # a piece of a line longer than the limit
        else:
            assert chunk.text == lines_of(text, chunk)
        if previous is not None:
            assert chunk.start_line >= previous.start_line
            if chunk.start_line <= previous.end_line:
                # Only a split repeats lines, only its own overlap, only inside one segment.
                same_split = chunk.part is not None and previous.part is not None and chunk.part == previous.part + 1
                long_line = chunk.start_line == chunk.end_line == previous.start_line == previous.end_line
                assert same_split or long_line, (previous, chunk)
                assert long_line or previous.end_line - chunk.start_line + 1 <= overlap
        covered.update(range(chunk.start_line, chunk.end_line + 1))
        previous = chunk
    blank = {n for n, line in enumerate(source, start=1) if not line.strip()}
    assert set(range(1, len(source) + 1)) - blank <= covered


# -- Markdown ---------------------------------------------------------------------------

MARKDOWN = textwrap.dedent(
    """\
    Preamble line.

    # Install

    ## From source

    Clone it.

    Build it:

    ```bash
    # not a heading

    make
    ```

    ## With pip

    pip install it.

    Usage
    =====

    Run it.
    """
)


def test_markdown_sections_keep_heading_paths_and_exact_lines() -> None:
    chunks = chunk_text(MARKDOWN, "markdown", max_chars=1_000)
    assert [(c.start_line, c.end_line, c.heading_path) for c in chunks] == [
        (1, 1, ()),
        (3, 15, ("Install", "From source")),  # the empty "# Install" joins its first subsection
        (17, 19, ("Install", "With pip")),
        (21, 24, ("Usage",)),  # a setext heading
    ]
    assert chunks[1].text.startswith("# Install\n\n## From source")
    assert "make\n```" in chunks[1].text  # the fence kept whole, its "# " line no heading
    for chunk in chunks:
        assert chunk.text == lines_of(MARKDOWN, chunk)
        assert chunk.kind == "section"


def test_a_long_markdown_section_is_packed_by_paragraphs_keeping_fences_whole() -> None:
    chunks = chunk_text(MARKDOWN, "markdown", max_chars=60)
    section = [c for c in chunks if c.heading_path == ("Install", "From source")]
    assert [(c.start_line, c.end_line) for c in section] == [(3, 9), (11, 15)]
    check_invariants(MARKDOWN, chunks, 60)


# -- plain text -------------------------------------------------------------------------


def test_plain_text_is_packed_by_paragraphs() -> None:
    text = "one one one\none\n\ntwo two\n\n\nthree three three three\n"
    assert spans(chunk_text(text, "text", max_chars=1_000)) == [(1, 7, "paragraph", None)]
    assert spans(chunk_text(text, "text", max_chars=25)) == [
        (1, 4, "paragraph", None),
        (7, 7, "paragraph", None),
    ]


def test_line_fallback_overlaps_and_cuts_long_lines() -> None:
    text = "\n".join(f"line {n:02d}" for n in range(1, 11))  # 7 characters each
    chunks = chunk_text(text, "text", max_chars=31)  # four lines per window
    assert [(c.start_line, c.end_line, c.part) for c in chunks] == [(1, 4, 1), (3, 6, 2), (5, 8, 3), (7, 10, 4)]
    long = chunk_text("x" * 25, "text", max_chars=10)
    assert [c.text for c in long] == ["x" * 10, "x" * 10, "x" * 5]
    assert {(c.start_line, c.end_line) for c in long} == {(1, 1)}


# -- Python -----------------------------------------------------------------------------

PYTHON = textwrap.dedent(
    '''\
    """Module docstring."""

    import os

    # Kept with the function below.
    @decorator(
        "arg",
    )
    def upload(path):
        """Send it."""
        return os.path.basename(path)


    class Store:
        """A class."""

        limit = 3

        def put(self, item):
            return item

        @property
        def size(self):
            return 0


    async def main():
        await upload("x")


    if __name__ == "__main__":
        main()
    '''
)


def test_python_top_level_definitions_with_decorators_and_comments() -> None:
    chunks = chunk_text(PYTHON, "python", max_chars=2_000)
    assert spans(chunks) == [
        (1, 3, "module", None),
        (5, 11, "function", "upload"),
        (14, 24, "class", "Store"),
        (27, 28, "function", "main"),
        (31, 32, "module", None),
    ]
    assert chunks[1].text.startswith("# Kept with the function below.\n@decorator(")
    assert '"""Send it."""' in chunks[1].text


def test_a_big_python_class_is_split_into_header_and_methods() -> None:
    chunks = chunk_text(PYTHON, "python", max_chars=120)
    store = [c for c in chunks if c.symbol is not None and c.symbol.startswith("Store")]
    assert spans(store) == [
        (14, 17, "class", "Store"),
        (19, 20, "method", "Store.put"),
        (22, 24, "method", "Store.size"),
    ]
    check_invariants(PYTHON, chunks, 120)


def test_python_that_does_not_parse_falls_back_to_paragraphs() -> None:
    text = "def broken(:\n    pass\n\nx = 1\n"
    assert spans(chunk_text(text, "python", max_chars=25)) == [(1, 2, "module", None), (4, 4, "module", None)]


# -- other languages ----------------------------------------------------------------------

JAVASCRIPT = textwrap.dedent(
    """\
    import { sleep } from "./time.js";

    /**
     * Push a blob.
     */
    export async function push(blob) {
      const marker = "}";  // a brace in a string
      /* and { in a comment */
      return marker;
    }

    export const add = (a, b) => {
      return a + b;
    };

    class Courier {
      constructor() {
        this.count = 0;
      }

      async deliver(parcel) {
        return parcel;
      }
    }

    main();
    """
)


def test_javascript_functions_arrows_and_classes() -> None:
    chunks = chunk_text(JAVASCRIPT, "javascript", max_chars=2_000)
    assert spans(chunks) == [
        (1, 1, "module", None),
        (3, 10, "function", "push"),
        (12, 14, "function", "add"),
        (16, 24, "class", "Courier"),
        (26, 26, "module", None),
    ]


def test_a_big_javascript_class_is_split_into_methods() -> None:
    chunks = chunk_text(JAVASCRIPT, "typescript", max_chars=80)
    courier = [c for c in chunks if c.symbol is not None and c.symbol.startswith("Courier")]
    assert spans(courier) == [
        (16, 16, "class", "Courier"),
        (17, 19, "method", "Courier.constructor"),
        (21, 23, "method", "Courier.deliver"),
        (24, 24, "class", "Courier"),
    ]
    check_invariants(JAVASCRIPT, chunks, 80)


GO = textwrap.dedent(
    """\
    package main

    import "fmt"

    // Server serves.
    type Server struct {
    \tname string
    }

    func (s *Server) Handle(w string) error {
    \tif w == "{" {
    \t\treturn nil
    \t}
    \treturn nil
    }

    func main() {
    \tfmt.Println(`multi
    line } raw`)
    }
    """
)


def test_go_types_methods_and_raw_strings() -> None:
    assert spans(chunk_text(GO, "go", max_chars=2_000)) == [
        (1, 3, "module", None),
        (5, 8, "type", "Server"),
        (10, 15, "function", "Server.Handle"),
        (17, 20, "function", "main"),
    ]


@pytest.mark.parametrize(
    ("language", "source", "expected"),
    [
        (
            "rust",
            "use std::io;\n\n/// Doc.\n#[derive(Debug)]\npub struct P<'a> {\n    s: &'a str,\n}\n\n"
            "impl<'a> P<'a> {\n    fn get(&self) -> char {\n        '}'\n    }\n}\n",
            [(1, 1, "module", None), (3, 7, "type", "P"), (9, 13, "impl", "P<'a>")],
        ),
        (
            "java",
            "package x;\n\n@Service\npublic class Uploads {\n    public void run() {\n    }\n}\n",
            [(1, 1, "module", None), (3, 7, "class", "Uploads")],
        ),
        (
            "c",
            "#include <stdio.h>\n\nstatic int twice(int x)\n{\n    return 2 * x;\n}\n\nint main(void) {\n"
            '    printf("{");\n    return 0;\n}\n',
            [(1, 1, "module", None), (3, 6, "function", "twice"), (8, 11, "function", "main")],
        ),
        (
            "shell",
            "#!/bin/sh\nset -e\n\n# say hi\ngreet() {\n  echo '}'\n}\n\ngreet\n",
            [(1, 2, "module", None), (4, 7, "function", "greet"), (9, 9, "module", None)],
        ),
        (
            "ruby",
            "require 'x'\n\n# A thing.\nclass Thing\n  def go\n    1\n  end\nend\n\ndef helper = 2\n",
            [(1, 1, "module", None), (3, 8, "class", "Thing"), (10, 10, "function", "helper")],
        ),
    ],
)
def test_other_languages(language: str, source: str, expected: list[tuple[int, int, str, str | None]]) -> None:
    assert spans(chunk_text(source, language, max_chars=2_000)) == expected


def test_newlines_are_normalised_before_counting_lines() -> None:
    chunks = chunk_text("a\r\n\r\nb\rc", "text", max_chars=2)
    assert [(c.start_line, c.end_line, c.text) for c in chunks] == [(1, 1, "a"), (3, 3, "b"), (4, 4, "c")]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_text("x", "text", max_chars=0)


# -- properties ---------------------------------------------------------------------------

_line = st.one_of(
    st.just(""),
    st.just("   "),
    st.text(alphabet="abc {}();'\"`#/*=\\", min_size=1, max_size=30),
    st.sampled_from(
        [
            "# Heading",
            "## Sub",
            "```",
            "def f(x):",
            "    return x",
            "class C:",
            "function g() {",
            "}",
            "const h = () => {",
            "  let s = '}';",
            "/* open",
            "close */",
            "x" * 70,
        ]
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(_line, min_size=0, max_size=40),
    language=st.sampled_from(["markdown", "text", "python", "javascript", "go", "rust", "c", "ruby", "shell"]),
    max_chars=st.integers(min_value=1, max_value=200),
)
def test_chunks_cover_every_non_blank_line_in_order_within_the_limit(
    lines: list[str], language: str, max_chars: int
) -> None:
    text = "\n".join(lines)
    check_invariants(text, chunk_text(text, language, max_chars=max_chars), max_chars)


def test_a_big_rust_impl_is_split_into_its_functions() -> None:
    source = (
        "impl Queue {\n"
        "    /// Make one.\n"
        "    pub fn new() -> Self {\n"
        "        Queue { items: Vec::new() }\n"
        "    }\n"
        "\n"
        "    fn push(&mut self, item: u32) {\n"
        "        self.items.push(item);\n"
        "    }\n"
        "}\n"
    )
    assert spans(chunk_text(source, "rust", max_chars=100)) == [
        (1, 1, "impl", "Queue"),
        (2, 5, "method", "Queue.new"),
        (7, 9, "method", "Queue.push"),
        (10, 10, "impl", "Queue"),
    ]
