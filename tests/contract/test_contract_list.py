"""Contract: list pages, orders, filters, shortcuts and cursors the same on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memorylink import Filter, LimitExceededError, Page, ValidationError


def all_pages(store: Any, **kwargs: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = store.list(cursor=cursor, **kwargs)
        seen.extend(m.id for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_empty_store_lists_nothing(store: Any) -> None:
    page = store.list()
    assert isinstance(page, Page) and page.items == [] and page.next_cursor is None


def test_pages_cover_everything_newest_first(store: Any) -> None:
    ids = [store.add(f"item {i}").id for i in range(23)]
    assert all_pages(store, limit=10) == list(reversed(ids))


def test_a_full_last_page_has_no_cursor(store: Any) -> None:
    for i in range(4):
        store.add(f"item {i}")
    first = store.list(limit=2)
    second = store.list(limit=2, cursor=first.next_cursor)
    assert len(second.items) == 2 and second.next_cursor is None


@pytest.mark.parametrize("order", ["created_asc", "created_desc"])
def test_created_orders(store: Any, order: str) -> None:
    ids = [store.add(f"item {i}").id for i in range(7)]
    expected = ids if order == "created_asc" else list(reversed(ids))
    assert all_pages(store, order=order, limit=3) == expected


@pytest.mark.parametrize("order", ["updated_asc", "updated_desc"])
def test_updated_orders_follow_updates(store: Any, order: str) -> None:
    ids = [store.add(f"item {i}").id for i in range(5)]
    touched = store.update(ids[1], text="touched")
    items = store.list(order=order, limit=5).items
    key = sorted(items, key=lambda m: (m.updated_at, m.id), reverse=order == "updated_desc")
    assert [m.id for m in items] == [m.id for m in key]  # ties on updated_at are broken by id
    assert touched.updated_at == max(m.updated_at for m in items)


def test_filtered_pagination(store: Any) -> None:
    tagged = [store.add(f"item {i}", tags=["t"] if i % 2 else []).id for i in range(15)]
    wanted = [memory_id for i, memory_id in enumerate(tagged) if i % 2]
    assert all_pages(store, tags=["t"], order="created_asc", limit=3) == wanted


def test_filter_language_and_filter_objects(store: Any) -> None:
    zoom = store.add("a", metadata={"source": "zoom", "minutes": 45})
    store.add("b", metadata={"source": "teams", "minutes": 20})
    assert [m.id for m in store.list(filter={"metadata.source": "zoom"}).items] == [zoom.id]
    assert [m.id for m in store.list(filter=Filter({"metadata.minutes": {"gt": 30}})).items] == [zoom.id]


def test_metadata_and_tags_shortcuts_and_together(store: Any) -> None:
    both = store.add("a", tags=["q4"], metadata={"source": "zoom"})
    store.add("b", tags=["q4"], metadata={"source": "teams"})
    store.add("c", tags=["q3"], metadata={"source": "zoom"})
    assert [m.id for m in store.list(tags=["q4"], metadata={"source": "zoom"}).items] == [both.id]


def test_date_range_shortcut(store: Any) -> None:
    memory = store.add("dated")
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    assert [m.id for m in store.list(date_range=(past, future)).items] == [memory.id]
    assert store.list(date_range=(future, None)).items == []
    assert [m.id for m in store.list(date_range=(None, future.isoformat())).items] == [memory.id]


def test_cursor_belongs_to_its_query(store: Any) -> None:
    for i in range(4):
        store.add(f"item {i}")
    ascending = store.list(order="created_asc", limit=2)
    with pytest.raises(ValidationError) as caught:
        store.list(cursor=ascending.next_cursor)
    assert caught.value.field == "cursor"


def test_garbage_cursor(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.list(cursor="garbage!!")
    assert caught.value.field == "cursor"


def test_bad_order_and_limit_are_named(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.list(order="sideways")
    assert "order" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        store.list(limit=0)
    assert "limit" in str(caught.value)


def test_page_size_limit(store: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        store.list(limit=100_000)
    assert (caught.value.limit, caught.value.actual) == ("max_page_size", 100_000)
    assert caught.value.maximum == 1000


def test_bad_filter_in_list(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.list(filter={"colour": "red"})
    assert "colour" in str(caught.value)


def test_empty_shortcuts_filter_nothing(store: Any) -> None:
    memory = store.add("x", tags=["a"], metadata={"k": 1})
    for options in ({"tags": []}, {"metadata": {}}, {"date_range": (None, None)}, {"filter": {}}):
        assert [m.id for m in store.list(**options).items] == [memory.id], options
        assert [h.memory.id for h in store.search("x", **options).hits] == [memory.id], options
