"""The default store with the real all-MiniLM-L6-v2 model: paraphrased queries find their facts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memorylink import MemoryStore

pytestmark = pytest.mark.model

FACTS = [
    ("Alice prefers window seats on long flights", "which seat does Alice like when flying?"),
    ("Bob is allergic to peanuts", "does Bob have any food allergies?"),
    ("The quarterly planning meeting moved to Thursday", "when is the planning meeting now?"),
    ("Our staging database password rotates every thirty days", "how often do staging credentials change?"),
    ("Carol's favourite programming language is Rust", "what language does Carol like best for coding?"),
    ("The office closes early on Christmas Eve", "are we leaving work early on December 24?"),
    ("Dan adopted a golden retriever puppy named Biscuit", "what is the name of Dan's dog?"),
    (
        "Deploy the payments service only after the load test passes",
        "what must happen before releasing payments?",
    ),
    ("Eve is training for the Berlin marathon in September", "which race is Eve preparing for?"),
    ("The team retrospective happens every other Friday", "how often do we hold retros?"),
    ("Frank moved from London to Toronto last spring", "where does Frank live now?"),
    ("Grace takes her coffee black with no sugar", "how does Grace drink her coffee?"),
    ("The analytics jobs migrate to the new cluster in January", "when are analytics workloads moving?"),
    ("Heidi speaks fluent Japanese and some Korean", "what languages can Heidi speak?"),
    ("The customer renewal for Acme Corp is due on March 1st", "when does Acme need to renew?"),
    ("Ivan's birthday is on the seventh of July", "when should we celebrate Ivan's birthday?"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    directory: Path = tmp_path_factory.mktemp("model") / "store"
    with MemoryStore.open(directory, passphrase="model test passphrase") as opened:
        opened.add_many([{"text": fact, "tags": ["fact"]} for fact, _ in FACTS])
        yield opened


def test_embedder_identity(store: MemoryStore) -> None:
    assert store.embedder.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert store.stats().dimension == 384


def test_paraphrase_recall(store: MemoryStore) -> None:
    at_1 = 0
    at_3 = 0
    for fact, question in FACTS:
        hits = [h.memory.text for h in store.search(question, top_k=3, sort_by="similarity").hits]
        at_1 += hits[0] == fact
        at_3 += fact in hits
    assert at_3 == len(FACTS)
    assert at_1 >= len(FACTS) - 2


def test_threshold_keeps_the_meaning_of_similarity(store: MemoryStore) -> None:
    unrelated = store.search("quantum chromodynamics lattice simulation", threshold=0.5)
    assert unrelated.hits == []
    related = store.search("Bob's peanut allergy", threshold=0.5)
    assert related.hits and related.hits[0].memory.text == "Bob is allergic to peanuts"


def test_reopen_does_not_need_the_model_until_a_text_is_embedded(tmp_path: Path) -> None:
    import subprocess
    import sys

    directory = tmp_path / "lazy"
    with MemoryStore.open(directory, passphrase="p") as created:
        created.add("a memory to list later")
    code = (
        "import sys; from memorylink import MemoryStore\n"
        f"s = MemoryStore.open({str(directory)!r}, passphrase='p')\n"
        "page = s.list(); m = s.get(page.items[0].id); s.delete(m.id); s.close()\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]
