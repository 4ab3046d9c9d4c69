"""The retrieval evaluation set (benchmarks/eval): deterministic, correctly labelled, split by conversation."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the scripts import the package as `eval` from benchmarks/

from eval import dataset, templates  # noqa: E402

SPLITS = {split: dataset.load(split) for split in dataset.SPLITS}


def test_committed_files_are_what_the_generator_writes() -> None:
    files = dataset.render(*dataset.generate())
    assert sorted(files) == sorted(p.name for p in dataset.DATA_DIR.glob("*.jsonl"))
    for name, text in files.items():
        assert (dataset.DATA_DIR / name).read_bytes() == text.encode("utf-8"), name


def test_generation_is_deterministic_and_depends_on_the_seed() -> None:
    first = dataset.render(*dataset.generate(count=4, seed=5))
    assert dataset.render(*dataset.generate(count=4, seed=5)) == first
    assert dataset.render(*dataset.generate(count=4, seed=6)) != first


def _check_labels(conversations: list[dataset.Conversation], questions: list[dataset.Question]) -> None:
    by_id = {c.conversation_id: c for c in conversations}
    for q in questions:
        conversation = by_id[q.conversation_id]
        assert q.user_id == conversation.user_id
        turns = dict(conversation.turns())
        assert q.evidence, q.question_id
        for key in q.evidence:
            assert key in turns, (q.question_id, key)
            assert dataset.mentions(turns[key]["content"], q.answer), (q.question_id, turns[key])
            assert turns[key]["role"] == "user"
        others = [m["content"] for key, m in turns.items() if key not in q.evidence]
        assert not any(dataset.mentions(text, q.answer) for text in others), q.question_id
        if q.qtype == "named_entity":
            named = [n for n in templates.PERSON_NAMES if dataset.mentions(q.question, n)]
            assert len(named) == 1 and dataset.mentions(turns[q.evidence[0]]["content"], named[0]), q.question_id
            assert not any(dataset.mentions(text, named[0]) for text in others), q.question_id


@pytest.mark.parametrize("split", dataset.SPLITS)
def test_every_label_points_to_the_one_turn_that_states_the_answer(split: str) -> None:
    _check_labels(*SPLITS[split])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**31), count=st.integers(min_value=1, max_value=3))
def test_labels_are_valid_for_any_seed(seed: int, count: int) -> None:
    _check_labels(*dataset.generate(count=count, seed=seed))


def test_splits_are_disjoint_by_conversation_and_about_70_30() -> None:
    dev_conversations, dev_questions = SPLITS["dev"]
    test_conversations, test_questions = SPLITS["test"]
    dev = {c.conversation_id for c in dev_conversations}
    test = {c.conversation_id for c in test_conversations}
    assert not dev & test
    assert len(dev | test) == dataset.CONVERSATIONS
    assert len(test) == round(dataset.CONVERSATIONS * dataset.TEST_FRACTION)
    assert {q.conversation_id for q in dev_questions} <= dev
    assert {q.conversation_id for q in test_questions} <= test
    assert not {c.user_id for c in dev_conversations} & {c.user_id for c in test_conversations}
    assert all(c.split == "dev" for c in dev_conversations) and all(q.split == "test" for q in test_questions)


@pytest.mark.parametrize("split", dataset.SPLITS)
def test_questions_paraphrase_and_cover_every_type(split: str) -> None:
    conversations, questions = SPLITS[split]
    turns = {key: m["content"] for c in conversations for key, m in c.turns()}
    for q in questions:
        assert q.answer.lower() not in q.question.lower(), q.question_id
        evidence = turns[q.evidence[0]].lower()
        assert q.question.lower().rstrip("?") not in evidence, q.question_id
    assert {q.qtype for q in questions} == set(templates.QUESTION_TYPES)
    assert len({q.question_id for q in questions}) == len(questions)


def test_question_templates_never_name_their_answer_slot() -> None:
    for kind in templates.ALL_KINDS:
        assert kind.qtype in templates.QUESTION_TYPES
        assert (kind.anchor is not None) == (kind.qtype == "named_entity"), kind.name
        if kind.anchor is not None:
            assert all("{" + kind.anchor + "}" in question for question in kind.questions), kind.name
        assert all("{" + kind.answer + "}" not in question for question in kind.questions), kind.name
        assert all("{" + kind.answer + "}" in statement for statement in kind.statements), kind.name
        assert bool(kind.lead) == bool(kind.ask) == (kind.qtype == "previous_turn"), kind.name


@pytest.mark.parametrize("split", dataset.SPLITS)
def test_sessions_alternate_roles_and_have_10_to_30_turns(split: str) -> None:
    conversations, _ = SPLITS[split]
    for conversation in conversations:
        assert dataset.SESSIONS[0] <= len(conversation.sessions) <= dataset.SESSIONS[1]
        for session in conversation.sessions:
            assert session.session_id.startswith(conversation.conversation_id + "-s")
            low, high = dataset.TURNS_PER_SESSION
            assert low <= len(session.messages) <= high, session.session_id
            assert [m["role"] for m in session.messages] == ["user", "assistant"] * (len(session.messages) // 2)


def test_previous_turn_evidence_follows_the_assistant_question_it_answers() -> None:
    conversations, questions = SPLITS["dev"]
    turns = {key: m for c in conversations for key, m in c.turns()}
    replies = [q for q in questions if q.qtype == "previous_turn"]
    assert replies
    for q in replies:
        session, _, position = q.evidence[0].rpartition("/")
        before = turns[dataset.turn_key(session, int(position) - 1)]
        assert before["role"] == "assistant" and before["content"].endswith("?"), q.question_id


def test_load_rejects_an_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        dataset.load("train")  # type: ignore[arg-type]


def test_near_misses_and_follow_ups_cover_every_group_and_never_say_an_answer() -> None:
    groups = {kind.group for kind in templates.ALL_KINDS}
    assert set(templates.NEAR_MISSES) == groups == set(templates.FOLLOW_UPS)
    slots = templates.distractor_slots(random.Random(0))
    for group, texts in templates.NEAR_MISSES.items():
        assert all(text.format(**slots) for text in texts), group
    for kind in templates.ALL_KINDS:
        for text in (*templates.FOLLOW_UPS[kind.group], *kind.acks):
            assert "{" + kind.answer + "}" not in text, (kind.name, text)
