"""Contract: bad input raises the same exception classes, naming the same field and limit, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from memorylink import LimitExceededError, Limits, Settings, ValidationError

LIMITS = Settings(
    limits=Limits(max_text_length=10, max_tags=2, max_top_k=5, max_batch_size=3, max_tag_length=8, max_page_size=20)
)


@pytest.fixture
def small(make_store: Any) -> Any:
    return make_store(LIMITS)


def test_text_length_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.add("x" * 11)
    error = caught.value
    assert (error.limit, error.maximum, error.actual, error.field) == ("max_text_length", 10, 11, "text")
    assert "max_text_length" in str(error)
    assert error.code == "limit_exceeded"


def test_tag_count_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.add("ok", tags=["a", "b", "c"])
    assert (caught.value.limit, caught.value.maximum, caught.value.actual) == ("max_tags", 2, 3)


def test_tag_length_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.add("ok", tags=["a" * 9])
    assert caught.value.limit == "max_tag_length"


def test_top_k_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.search("ok", top_k=6)
    assert (caught.value.limit, caught.value.maximum) == ("max_top_k", 5)
    with pytest.raises(LimitExceededError) as caught:
        small.similar("0000000000000", top_k=6)
    assert caught.value.limit == "max_top_k"


def test_batch_size_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.add_many(["a", "b", "c", "d"])
    assert caught.value.limit == "max_batch_size"
    with pytest.raises(LimitExceededError) as caught:
        small.delete_many(ids=["0000000000000"] * 4)
    assert caught.value.limit == "max_batch_size"


def test_page_size_limit(small: Any) -> None:
    with pytest.raises(LimitExceededError) as caught:
        small.list(limit=21)
    assert (caught.value.limit, caught.value.maximum, caught.value.field) == ("max_page_size", 20, "limit")


def test_limits_leave_the_store_untouched(small: Any) -> None:
    for bad in (lambda: small.add("x" * 11), lambda: small.add("ok", tags=["a", "b", "c"])):
        with pytest.raises(LimitExceededError):
            bad()
    assert small.list(limit=20).items == []


def test_empty_text(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add("")
    assert caught.value.field == "text" and not isinstance(caught.value, LimitExceededError)


def test_bad_metadata_keys(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add("ok", metadata={"a.b": 1})
    assert "metadata" in str(caught.value.field)
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"": 1})


def test_metadata_that_is_not_json(store: Any) -> None:
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"f": object()})
    with pytest.raises(ValidationError):
        store.add("ok", metadata={"nan": float("nan")})
    assert store.list().items == []


def test_bad_scope_ids(store: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        store.add("ok", user_id="   ")
    assert caught.value.field == "user_id"
    with pytest.raises(LimitExceededError) as caught:
        store.add("ok", agent_id="x" * 1000)
    assert (caught.value.field, caught.value.limit) == ("agent_id", "max_scope_id_length")
    assert store.add("ok", user_id="").user_id == "default"  # an empty user_id is "not given"


def test_validation_errors_are_value_errors(store: Any) -> None:
    with pytest.raises(ValueError, match="text"):
        store.add("")


LONE = "\ud800"  # a lone surrogate: a str UTF-8 cannot encode (JSON can spell it as "\\ud800")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.add(f"a{LONE}b"), "text"),
        (lambda s: s.add("ok", tags=[f"t{LONE}"]), "tags[0]"),
        (lambda s: s.add("ok", metadata={"k": f"v{LONE}"}), "metadata"),
        (lambda s: s.add("ok", agent_id=f"a{LONE}"), "agent_id"),
        (lambda s: s.search(f"q{LONE}"), "query"),
        (lambda s: s.search("q", tags=[LONE]), "tags"),
        (lambda s: s.search("q", filter={"metadata.k": LONE}), "filter"),
        (lambda s: s.list(metadata={"k": LONE}), "metadata"),
        (lambda s: s.list(agent_id=LONE), "agent_id"),
        (lambda s: s.list(tags=[LONE]), "tags"),
        (lambda s: s.get("0000000000000", run_id=LONE), "run_id"),
        (lambda s: s.webhooks.add("https://example.com/hook", description=LONE), "description"),
    ],
)
def test_a_string_that_is_not_valid_unicode_is_a_validation_error(store: Any, call: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call(store)
    assert caught.value.field == field
    assert store.list().items == []


def test_a_batch_item_that_is_not_valid_unicode_fails_alone(store: Any) -> None:
    result = store.add_many([f"a{LONE}b", "fine"])
    assert (result.succeeded, result.failed) == (1, 1)
    assert result.items[0].error is not None and result.items[0].error.details["field"] == "text"
    assert [m.text for m in store.list().items] == ["fine"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.search("q", top_k=True), "top_k"),
        (lambda s: s.search("q", top_k=2.5), "top_k"),
        (lambda s: s.search("q", threshold="x"), "threshold"),
        (lambda s: s.search("q", sort_by="nope"), "sort_by"),
        (lambda s: s.search("q", mode="nope"), "mode"),
        (lambda s: s.add("x", metadata=[1]), "metadata"),
        (lambda s: s.list(order="sideways"), "order"),
        (lambda s: s.webhooks.add("https://example.com/hook", timeout_s="5"), "timeout_s"),
    ],
)
def test_a_wrong_type_names_the_field(store: Any, call: Any, field: str) -> None:
    # The server refuses some of these in its request validation, before the store sees them.
    with pytest.raises(ValidationError) as caught:
        call(store)
    assert caught.value.field == field


@pytest.mark.parametrize("threshold", [5.0, -0.5, float("nan"), "high"])
def test_similar_checks_its_threshold_as_search_does(store: Any, threshold: Any) -> None:
    memory = store.add("a memory to be similar to")
    store.add("another memory")
    with pytest.raises(ValidationError) as caught:
        store.similar(memory.id, threshold=threshold)
    assert caught.value.field == "threshold"
