"""docs/client.md: every python block runs against a real server, and what the page claims holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.client import RemoteStore
from memorylink.embedders.hashing import HashingEmbedder
from stream_helpers import Live, serving

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "client.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[int, str]]:
    return [(number, match.group(1)) for number, match in enumerate(BLOCK.finditer(PAGE.read_text()), start=1)]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Live, MemoryStore]]:
    pytest.importorskip("fastapi")
    from memorylink.server import create_app

    settings = Settings(events=EventSettings(outbox="always", deliver=False))
    with (
        MemoryStore.open(None, embedder=HashingEmbedder(), settings=settings) as store,
        serving(create_app(store)) as live,
    ):
        yield live, store


def key_for(store: MemoryStore, user_id: str, scopes: tuple[str, ...]) -> str:
    from memorylink.server.auth import AuthService

    return AuthService(store).accounts.create_key(scopes=scopes, user_id=user_id).key


def test_the_page_has_examples() -> None:
    assert len(blocks()) >= 5


@pytest.mark.parametrize(("number", "code"), blocks(), ids=lambda v: str(v)[:20])
def test_doc_block_runs(
    number: int, code: str, served: tuple[Live, MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, store = served
    monkeypatch.setenv("MEMORYLINK_URL", live.url)
    monkeypatch.setenv("MEMORYLINK_API_KEY", key_for(store, "default", ("admin",)))
    exec(compile(code, f"docs/client.md#block{number}", "exec"), {"__name__": "__docs__"})


def test_writes_without_a_user_go_to_the_keys_user(served: tuple[Live, MemoryStore]) -> None:
    from memorylink import PermissionDeniedError

    live, store = served
    with RemoteStore(live.url, api_key=key_for(store, "alice", ("read", "write"))) as alice:
        memory = alice.add("a note alice did not label")
        assert memory.user_id == "alice"
        assert {m.user_id for m in alice.list(limit=100).items} == {"alice"}
        with pytest.raises(PermissionDeniedError) as caught:
            alice.list(user_id="bob")
        assert caught.value.request_id is not None


def test_a_body_over_the_servers_limit_is_a_limit_error(served: tuple[Live, MemoryStore]) -> None:
    from memorylink import LimitExceededError

    live, store = served
    with RemoteStore(live.url, api_key=key_for(store, "default", ("admin",))) as remote:
        with pytest.raises(LimitExceededError) as caught:
            remote.add_many(["x" * 9_000] * 130)  # about 1.2 MB of JSON; the default limit is 1 MiB
        assert (caught.value.limit, caught.value.maximum) == ("max_body_bytes", 1024 * 1024)
        assert caught.value.actual is not None and caught.value.actual > 1024 * 1024
        assert caught.value.request_id is not None
    assert all(m.text != "x" * 9_000 for m in store.list(limit=1000).items)  # nothing of the batch was stored


def test_request_shape_errors_list_each_problem(served: tuple[Live, MemoryStore]) -> None:
    from memorylink import ValidationError

    live, store = served
    with (
        RemoteStore(live.url, api_key=key_for(store, "default", ("admin",))) as remote,
        pytest.raises(ValidationError) as caught,
    ):
        remote.list(order="sideways")  # type: ignore[arg-type]
    errors = caught.value.details["errors"]
    assert any("order" in [str(part) for part in error["loc"]] for error in errors)
