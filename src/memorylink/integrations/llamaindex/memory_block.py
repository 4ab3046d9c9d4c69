"""MemoryLinkMemoryBlock: long-term memory for LlamaIndex's ``Memory``, kept in a memorylink store."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, TextBlock
from llama_index.core.memory.memory import BaseMemoryBlock
from pydantic import Field, PrivateAttr

from memorylink.async_store import AsyncMemoryStore
from memorylink.store import MemoryStore

__all__ = ["MemoryLinkMemoryBlock"]


class MemoryLinkMemoryBlock(BaseMemoryBlock[str]):
    """A ``Memory`` block that stores chat messages as memories and recalls the relevant ones.

    Messages flushed from ``Memory``'s short-term window are stored with ``add_messages``
    semantics: one memory per message with text content, ``role`` and ``turn`` in metadata
    (plus ``session_id`` when ``Memory`` gives one), in the block's scope. On ``get`` the block
    searches with the text of the last ``query_messages`` messages and renders the
    ``top_k`` hits as ``role: text`` lines. Recall crosses sessions by default (the scope, e.g.
    ``user_id``, is what the memories belong to); ``session_only=True`` limits it to the
    current ``Memory`` session.

    Args:
        store: An open ``MemoryStore`` or ``AsyncMemoryStore``.
        user_id: Scope of every store call (``agent_id`` and ``run_id`` too).
    """

    name: str = "memorylink"
    description: str | None = "Relevant earlier messages, recalled from memorylink."
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    top_k: int = Field(default=3, ge=1, description="How many earlier messages to recall.")
    query_messages: int = Field(default=2, ge=1, description="How many of the latest messages form the query.")
    threshold: float | None = Field(default=None, description="Drop hits whose similarity is below this.")
    session_only: bool = Field(default=False, description="Recall only messages of the current session.")
    format_template: str = Field(default="{text}", description="Wraps the recalled lines ({text}).")

    _store: AsyncMemoryStore = PrivateAttr()

    def __init__(self, store: MemoryStore | AsyncMemoryStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._store = store if isinstance(store, AsyncMemoryStore) else AsyncMemoryStore(store)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        session_id: str | None = None
        batch: list[dict[str, str]] = []
        for message in messages:
            session_id = message.additional_kwargs.pop("session_id", None) or session_id
            text = _text_of(message)
            if text:
                batch.append({"role": message.role.value, "content": text})
        if not batch:
            return
        await self._store.add_messages(
            batch,
            user_id=self.user_id,
            agent_id=self.agent_id,
            run_id=self.run_id,
            metadata={"session_id": session_id} if session_id is not None else None,
        )

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        query = " ".join(text for text in map(_text_of, (messages or [])[-self.query_messages :]) if text)
        if not query:
            return ""
        session_id = block_kwargs.get("session_id")
        where = {"metadata.session_id": session_id} if self.session_only and session_id is not None else None
        result = await self._store.search(
            query,
            top_k=self.top_k,
            threshold=self.threshold,
            filter=where,
            sort_by="similarity",
            user_id=self.user_id,
            agent_id=self.agent_id,
            run_id=self.run_id,
        )
        if not result.hits:
            return ""
        lines = [f"{hit.memory.metadata.get('role', 'memory')}: {hit.memory.text}" for hit in result.hits]
        return self.format_template.format(text="\n".join(lines))


def _text_of(message: ChatMessage) -> str:
    return " ".join(block.text for block in message.blocks if isinstance(block, TextBlock) and block.text)
