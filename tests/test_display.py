"""Notebook and prompt display: compact, escaped HTML tables and short plain reprs."""

from __future__ import annotations

from collections.abc import Callable

from memorylink import MemoryStore


def test_html_tables_escape_user_text_and_show_the_fields(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    memory = store.add(
        "<script>alert('x')</script> Alice likes window seats",
        tags=["travel"],
        metadata={"source": "chat"},
        user_id="alice",
        agent_id="planner",
    )
    html = memory._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    for value in (memory.id, "travel", "source=&quot;chat&quot;", "alice agent=planner"):
        assert value in html
    result = store.search("window seats", user_id="alice")
    table = result._repr_html_()
    assert table.count("<tr>") == 1 + len(result.hits) and "sorted by relevance" in table
    page = store.list(user_id="alice")
    assert "1 memories" in page._repr_html_()
    batch = store.add_many(["fine", {"text": ""}])
    batch_table = batch._repr_html_()
    assert "1 stored, 1 failed" in batch_table and "ok" in batch_table
    stats = store.stats()._repr_html_()
    assert "memories" in stats and "embedder" in stats


def test_plain_reprs_are_short_and_readable(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    memory = store.add("x " * 200, tags=["t"], user_id="bob", run_id="r1")
    text = repr(memory)
    assert text.startswith(f"Memory(id={memory.id!r}, text='x x") and "…" in text
    assert "run_id='r1'" in text and "agent_id" not in text and "datetime.datetime" not in text
    assert len(text) < 200
    result = store.search("x", user_id="bob")
    assert repr(result) == (
        f"SearchResult(query='x', hits={len(result.hits)}, total={result.total}, sort_by='relevance', "
        f"query_time_ms={result.query_time_ms:.1f})"
    )
    batch = store.add_many(["ok", {"text": ""}])
    assert repr(batch).startswith("BatchResult(succeeded=1, failed=1, errors=[#1: ")
    assert repr(store.list()) == "Page(items=2, next_cursor=None)"


def test_the_store_says_where_it_is(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store("shown")
    assert repr(store) == f"MemoryStore({str(store.path)!r}, embedder='memorylink/hashing-v1', open)"
    store.close()
    assert repr(store).endswith(", closed)")
