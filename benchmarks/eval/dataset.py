"""The seeded generator of the evaluation set, its DEV / TEST split and its JSONL files.

Each *conversation* belongs to one user and has 8-14 *sessions* of 10-30 alternating
user / assistant turns (about 225 turns in all). Between chit-chat, generic distractors
and one to three *near misses* per fact (the fact's vocabulary about someone or something
else), 8-12 facts about the user and 2-4 about named people in their life are stated
**once** each (see :mod:`eval.templates`); each fact yields one question that paraphrases
it, labelled with its evidence turn. A turn's key is ``"<session_id>/<turn>"``, where ``turn`` is the 0-based
position in the session, the ``metadata["turn"]`` that ``add_messages`` stores.

The split is by conversation: 70 % DEV, 30 % TEST. TEST is for the final check only;
tuning (fusion weights, k, anything) is done on DEV. Nothing enforces this: the docs say so.

The generator rejects (and redraws, with the next attempt number in the seed) a
conversation in which an answer appears in any turn but its evidence turn, or in its
question, so every label is complete: no unlabelled turn also answers the question; and one
in which a person a question names appears in another turn.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from . import templates
from .templates import FactKind

SEED = 20261201
CONVERSATIONS = 60
TEST_FRACTION = 0.3
SESSIONS = (8, 14)
TURNS_PER_SESSION = (10, 30)
FACTS_PER_CONVERSATION = (8, 12)
NAMED_FACTS_PER_CONVERSATION = (2, 4)
DISTRACTORS_PER_CONVERSATION = (20, 35)
NEAR_MISSES_PER_FACT = (1, 3)
MAX_ATTEMPTS = 50

DATA_DIR = Path(__file__).resolve().parent / "data"
SPLITS = ("dev", "test")
Split = Literal["dev", "test"]


@dataclass(frozen=True)
class Session:
    """One ``add_messages`` call: the session id (the store's ``run_id``) and its messages."""

    session_id: str
    messages: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Conversation:
    """All sessions of one user."""

    conversation_id: str
    user_id: str
    split: str
    sessions: tuple[Session, ...]

    def turns(self) -> Iterable[tuple[str, dict[str, str]]]:
        """(turn key, message) for every turn, in order."""
        for session in self.sessions:
            for position, message in enumerate(session.messages):
                yield turn_key(session.session_id, position), message


@dataclass(frozen=True)
class Question:
    """A question, the answer string it asks for and the turn(s) that state it."""

    question_id: str
    conversation_id: str
    user_id: str
    split: str
    qtype: str
    kind: str
    question: str
    answer: str
    evidence: tuple[str, ...]


def turn_key(session_id: str, turn: int) -> str:
    """The stable key of a turn: ``"<session_id>/<0-based turn>"``."""
    return f"{session_id}/{turn}"


def mentions(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case-insensitive)."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, flags=re.IGNORECASE) is not None


# -- generation ---------------------------------------------------------------------------------


@dataclass
class _Fact:
    kind: FactKind
    question: str
    answer: str
    block: list[tuple[str, str]]
    evidence_offset: int
    anchor: str | None


def _fact(kind: FactKind, rng: random.Random) -> _Fact:
    slots = kind.make(rng)
    statement = rng.choice(kind.statements).format(**slots)
    ack = rng.choice((*kind.acks, *templates.FOLLOW_UPS[kind.group])).format(**slots)
    if kind.previous_turn:
        block = [
            ("user", rng.choice(kind.lead).format(**slots)),
            ("assistant", rng.choice(kind.ask).format(**slots)),
            ("user", statement),
            ("assistant", ack),
        ]
        offset = 2
    else:
        block = [("user", statement), ("assistant", ack)]
        offset = 0
    anchor = slots[kind.anchor] if kind.anchor else None
    return _Fact(kind, rng.choice(kind.questions).format(**slots), slots[kind.answer], block, offset, anchor)


def _pick_kinds(rng: random.Random, count: int, pool: Sequence[FactKind]) -> list[FactKind]:
    kinds = list(pool)
    rng.shuffle(kinds)
    chosen: list[FactKind] = []
    groups: set[str] = set()
    for kind in kinds:
        if kind.group not in groups:
            chosen.append(kind)
            groups.add(kind.group)
        if len(chosen) == count:
            break
    return chosen


def _chitchat(rng: random.Random, used: set[str]) -> list[tuple[str, str]]:
    fresh = [pair for pair in templates.CHITCHAT if pair[0] not in used] or list(templates.CHITCHAT)
    user, replies = rng.choice(fresh)
    used.add(user)
    return [("user", user), ("assistant", rng.choice(replies))]


_Block = tuple[list[tuple[str, str]], _Fact | None]


def _place(sessions: list[list[_Block]], block: _Block, rng: random.Random) -> None:
    """Put ``block`` in a random session that stays within the turn limit (else the shortest)."""
    order = list(range(len(sessions)))
    rng.shuffle(order)
    size = [sum(len(b) for b, _ in session) for session in sessions]
    fits = [i for i in order if size[i] + len(block[0]) <= TURNS_PER_SESSION[1]]
    sessions[fits[0] if fits else min(order, key=size.__getitem__)].append(block)


def _attempt(index: int, split: str, rng: random.Random) -> tuple[Conversation, list[Question]] | None:
    conversation_id = f"conv-{index:03d}"
    user_id = f"user-{index:03d}"
    sessions = rng.randint(*SESSIONS)
    kinds = _pick_kinds(rng, rng.randint(*FACTS_PER_CONVERSATION), templates.FACT_KINDS)
    kinds += _pick_kinds(rng, rng.randint(*NAMED_FACTS_PER_CONVERSATION), templates.NAMED_KINDS)
    facts = [_fact(kind, rng) for kind in kinds]
    blocks: list[list[_Block]] = [[] for _ in range(sessions)]
    for fact in facts:
        _place(blocks, (fact.block, fact), rng)
    pool = [rng.choice(templates.DISTRACTORS) for _ in range(rng.randint(*DISTRACTORS_PER_CONVERSATION))]
    for fact in facts:
        near = templates.NEAR_MISSES[fact.kind.group]
        pool += [rng.choice(near) for _ in range(rng.randint(*NEAR_MISSES_PER_FACT))]
    avoid = frozenset(fact.answer for fact in facts) | {fact.anchor for fact in facts if fact.anchor}
    for template in pool:
        text = template.format(**templates.distractor_slots(rng, avoid))
        reply = rng.choice(templates.DISTRACTOR_REPLIES)
        _place(blocks, ([("user", text), ("assistant", reply)], None), rng)

    built: list[Session] = []
    evidence: dict[int, str] = {}  # id(fact) -> turn key
    for number, session_blocks in enumerate(blocks):
        session_id = f"{conversation_id}-s{number + 1}"
        target = 2 * rng.randint(TURNS_PER_SESSION[0] // 2, TURNS_PER_SESSION[1] // 2)
        used: set[str] = set()
        while sum(len(block) for block, _ in session_blocks) < target:
            session_blocks.append((_chitchat(rng, used), None))
        rng.shuffle(session_blocks)
        messages: list[dict[str, str]] = []
        for block, fact in session_blocks:
            if fact is not None:
                evidence[id(fact)] = turn_key(session_id, len(messages) + fact.evidence_offset)
            messages.extend({"role": role, "content": text} for role, text in block)
        built.append(Session(session_id, tuple(messages)))
    conversation = Conversation(conversation_id, user_id, split, tuple(built))

    texts = dict(conversation.turns())
    questions: list[Question] = []
    for number, fact in enumerate(facts):
        key = evidence[id(fact)]
        if not mentions(texts[key]["content"], fact.answer) or mentions(fact.question, fact.answer):
            return None
        if any(mentions(m["content"], fact.answer) for k, m in texts.items() if k != key):
            return None  # the answer is said elsewhere too: the label would be incomplete
        if fact.anchor is not None and any(mentions(m["content"], fact.anchor) for k, m in texts.items() if k != key):
            return None  # the person the question names appears elsewhere: the question could be ambiguous
        questions.append(
            Question(
                question_id=f"{conversation_id}-q{number:02d}",
                conversation_id=conversation_id,
                user_id=user_id,
                split=split,
                qtype=fact.kind.qtype,
                kind=fact.kind.name,
                question=fact.question,
                answer=fact.answer,
                evidence=(key,),
            )
        )
    return conversation, questions


def split_of(index: int, count: int = CONVERSATIONS, seed: int = SEED) -> str:
    """``"test"`` for a seeded 30 % of the conversation numbers, ``"dev"`` for the rest."""
    order = list(range(count))
    random.Random(f"{seed}-split").shuffle(order)
    return "test" if index in set(order[: round(count * TEST_FRACTION)]) else "dev"


def generate(count: int = CONVERSATIONS, seed: int = SEED) -> tuple[list[Conversation], list[Question]]:
    """Build ``count`` conversations and their questions, deterministically from ``seed``."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    conversations: list[Conversation] = []
    questions: list[Question] = []
    for index in range(count):
        split = split_of(index, count, seed)
        for attempt in range(MAX_ATTEMPTS):
            made = _attempt(index, split, random.Random(f"{seed}-{index}-{attempt}"))
            if made is not None:
                conversations.append(made[0])
                questions.extend(made[1])
                break
        else:
            raise RuntimeError(f"conversation {index}: no valid draw in {MAX_ATTEMPTS} attempts")
    return conversations, questions


# -- files ------------------------------------------------------------------------------------------


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def render(conversations: Sequence[Conversation], questions: Sequence[Question]) -> dict[str, str]:
    """The data files' contents by file name (``<split>_conversations.jsonl``, ``<split>_questions.jsonl``)."""
    files: dict[str, str] = {}
    for split in SPLITS:
        files[f"{split}_conversations.jsonl"] = "".join(_line(asdict(c)) for c in conversations if c.split == split)
        files[f"{split}_questions.jsonl"] = "".join(_line(asdict(q)) for q in questions if q.split == split)
    return files


def write(directory: Path = DATA_DIR, count: int = CONVERSATIONS, seed: int = SEED) -> dict[str, str]:
    """Generate and write the data files into ``directory``; return their contents."""
    files = render(*generate(count, seed))
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return files


def load(split: Split, directory: Path = DATA_DIR) -> tuple[list[Conversation], list[Question]]:
    """Read one split's conversations and questions from the JSONL files."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    conversations = []
    for line in (directory / f"{split}_conversations.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        sessions = tuple(Session(s["session_id"], tuple(s["messages"])) for s in raw["sessions"])
        conversations.append(Conversation(raw["conversation_id"], raw["user_id"], raw["split"], sessions))
    questions = []
    for line in (directory / f"{split}_questions.jsonl").read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        questions.append(Question(**{**raw, "evidence": tuple(raw["evidence"])}))
    return conversations, questions
