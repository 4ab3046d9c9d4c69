"""MemoryLinkMemoryBlock under LlamaIndex's Memory: flushed messages become memories and come back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llamaindex_helpers import block_network, close_memory

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.integrations.llamaindex import MemoryLinkMemoryBlock

CHAT = [
    ("user", "My cat is called Miso and she loves tuna"),
    ("assistant", "Miso sounds lovely"),
    ("user", "I live in Lisbon near the river"),
    ("assistant", "Lisbon is beautiful"),
    ("user", "Tell me about the weather tomorrow please"),
    ("assistant", "It will rain"),
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    block_network(monkeypatch)


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as opened:
        yield opened


@pytest.fixture
def small_memory() -> Iterator[Callable[[MemoryLinkMemoryBlock], Memory]]:
    made: list[Memory] = []

    def make(block: MemoryLinkMemoryBlock) -> Memory:
        # A tiny short-term window, so the first turns are flushed to the block.
        memory = Memory.from_defaults(
            session_id="s1", token_limit=60, chat_history_token_ratio=0.5, token_flush_size=20, memory_blocks=[block]
        )
        made.append(memory)
        return memory

    yield make
    for memory in made:
        close_memory(memory)


def test_flushed_messages_are_stored_and_recalled(
    store: MemoryStore, small_memory: Callable[[MemoryLinkMemoryBlock], Memory]
) -> None:
    memory = small_memory(MemoryLinkMemoryBlock(store, user_id="ann", top_k=1))
    for role, text in CHAT:
        memory.put(ChatMessage(role=role, content=text))
    stored = store.list(user_id="ann", order="created_asc").items
    assert [m.text for m in stored][:2] == [CHAT[0][1], CHAT[1][1]]
    assert stored[0].metadata == {"role": "user", "turn": 0, "session_id": "s1"}
    assert len(stored) < len(CHAT)  # the latest turns stay in the short-term window

    memory.put(ChatMessage(role="user", content="what does my cat Miso like to eat?"))
    system, *rest = memory.get()
    assert system.role.value == "system"
    assert "user: My cat is called Miso and she loves tuna" in str(system.content)
    assert rest[-1].content == "what does my cat Miso like to eat?"


def test_recall_is_scoped_and_crosses_sessions(store: MemoryStore) -> None:
    ann = MemoryLinkMemoryBlock(store, user_id="ann")
    bob = MemoryLinkMemoryBlock(store, user_id="bob")
    question = [ChatMessage(role="user", content="what does Miso eat?")]

    async def scenario() -> tuple[str, str, str, str]:
        await ann.aput([ChatMessage(role="user", content="Miso eats tuna")], session_id="monday")
        crossed = await ann.aget(question, session_id="tuesday")
        other_user = await bob.aget(question)
        only_session = MemoryLinkMemoryBlock(store, user_id="ann", session_only=True)
        same = await only_session.aget(question, session_id="monday")
        other = await only_session.aget(question, session_id="tuesday")
        return crossed, other_user, same, other

    crossed, other_user, same, other = asyncio.run(scenario())
    assert crossed == same == "user: Miso eats tuna"
    assert other_user == other == ""


def test_empty_inputs_store_and_recall_nothing(store: MemoryStore) -> None:
    block = MemoryLinkMemoryBlock(store, format_template="Earlier:\n{text}", threshold=0.99)

    async def scenario() -> tuple[str, str]:
        await block.aput([])
        await block.aput([ChatMessage(role="user", content="")])
        await block.aput([ChatMessage(role="user", content="an unrelated remark")])
        return await block.aget([]), await block.aget([ChatMessage(role="user", content="an unrelated question")])

    assert asyncio.run(scenario()) == ("", "")
    assert len(store.list().items) == 1
    loose = MemoryLinkMemoryBlock(store, format_template="Earlier:\n{text}")
    assert (
        asyncio.run(loose.aget([ChatMessage(role="user", content="unrelated")]))
        == "Earlier:\nuser: an unrelated remark"
    )
