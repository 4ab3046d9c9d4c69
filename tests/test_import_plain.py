"""import_ of plain JSON Lines (new memories, no header): new ids, add_many semantics, bad lines by number."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from memorylink import MemoryStore


def test_plain_json_lines_are_added_and_bad_lines_fail_alone(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    events: list[str] = []
    store.events.subscribe(lambda event: events.append(event.type))
    lines = [
        json.dumps({"text": "first note", "tags": ["a"], "user_id": "alice"}),
        "",
        "{oops",
        json.dumps({"text": "", "tags": []}),
        json.dumps({"text": "second note", "metadata": {"n": 2}}),
        json.dumps({"text": "third", "colour": "red"}),
    ]
    progress: list[int] = []
    result = store.import_(io.StringIO("\n".join(lines) + "\n"), on_progress=lambda done, _: progress.append(done))
    assert result.imported == 2 and result.failed == 3 and result.skipped == 0
    assert [problem.line for problem in result.errors] == [3, 4, 6]
    assert "not JSON" in result.errors[0].error.message
    assert result.errors[1].error.code == "validation_error"
    assert "colour" in result.errors[2].error.message
    first, second = (store.get(memory_id) for memory_id in result.ids)
    assert first is not None and (first.text, first.tags, first.user_id) == ("first note", ["a"], "alice")
    assert second is not None and (second.metadata, second.user_id) == ({"n": 2}, "default")
    assert events.count("memory.created") == 2 and "batch.completed" in events
    assert progress and progress[-1] == 5


def test_a_file_that_is_neither_is_refused(open_store: Callable[..., MemoryStore]) -> None:
    import pytest

    from memorylink import ValidationError

    store = open_store()
    with pytest.raises(ValidationError, match="neither its header nor a memory"):
        store.import_(io.StringIO('{"title": "no text here"}\n'))
