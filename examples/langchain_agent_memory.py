"""A LangChain assistant with long-term memory in memorylink (runs offline: a fake chat model).

    pip install "memorylink[langchain]"
    python examples/langchain_agent_memory.py [store-directory]

The assistant remembers what each user tells it, in that user's scope of an encrypted
store, and recalls the relevant memories into its prompt before it answers. The chat
model here is LangChain's FakeListChatModel, so the answers are canned, but the chain,
the retrieval and the prompt are the real thing: swap in any chat model.

Memories are embedded with memorylink's hashing embedder (no model download); drop the
``embedder=`` argument to use the default, all-MiniLM-L6-v2 (``memorylink[embed]``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.integrations.langchain import MemoryLinkVectorStore

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "You are a travel assistant. What you remember about this user:\n{memories}"),
        ("human", "{question}"),
    ]
)


def format_memories(documents: list[Document]) -> str:
    return "\n".join(f"- {doc.page_content}" for doc in documents) or "- (nothing yet)"


class Assistant:
    """One user's assistant: remembers facts in the user's scope, recalls them per question."""

    def __init__(self, store: MemoryStore, user_id: str, answers: list[str]) -> None:
        self.memory = MemoryLinkVectorStore(store, user_id=user_id, agent_id="travel-assistant", sort_by="relevance")
        self.last_prompt = ""
        retriever = self.memory.as_retriever(search_kwargs={"k": 2, "filter": {"tags": ["preference"]}})
        llm = FakeListChatModel(responses=answers)
        self.chain = (
            {"memories": retriever | format_memories, "question": RunnablePassthrough()}
            | PROMPT
            | RunnableLambda(self._record)
            | llm
            | StrOutputParser()
        )

    def _record(self, prompt: PromptValue) -> PromptValue:
        self.last_prompt = prompt.to_string()  # kept to show what the model was told
        return prompt

    def remember(self, fact: str, *, key: str) -> None:
        # A stable id per fact: telling the assistant again updates the memory instead of duplicating it.
        self.memory.add_texts([fact], [{"source": "chat"}], ids=[key], tags=["preference"])

    def ask(self, question: str) -> str:
        answer: str = self.chain.invoke(question)
        return answer


def main(directory: Path) -> None:
    with MemoryStore.open(directory, passphrase="example passphrase", embedder=HashingEmbedder()) as store:
        alice = Assistant(
            store,
            "alice",
            answers=["I booked you an aisle seat, and asked for a vegetarian meal."],
        )
        alice.remember("Alice prefers a window seat on flights", key="seat")
        alice.remember("Alice eats vegetarian meals", key="meal")
        alice.remember("Alice prefers an aisle seat on flights", key="seat")  # she changed her mind: an update
        bob = Assistant(store, "bob", answers=["Booked: the earliest flight, as you like."])
        bob.remember("Bob likes the earliest flight of the day", key="time")

        question = "Which seat and meal should I book for my flight?"
        print(f"alice asks: {question}")
        print(f"assistant: {alice.ask(question)}")
        print("memories recalled into the prompt:")
        for line in alice.last_prompt.splitlines():
            if line.startswith("- "):
                print(f"  {line}")
        print(f"alice's memories: {len(alice.memory.get_by_ids(['seat', 'meal', 'time']))}")
        print(f"bob's memories: {len(bob.memory.get_by_ids(['seat', 'meal', 'time']))}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            main(Path(scratch) / "memories")
