"""Sealed stream positions: they open to the event id they name, on this store only, after a restart too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink import MemoryStore
from memorylink.errors import NotFoundError
from memorylink.server.streams._positions import POSITION_PREFIX, Positions

EVENT_IDS = st.from_regex(r"evt_[0-9A-Z]{13}", fullmatch=True)
SHARED = Positions(bytes(range(32)))


@given(EVENT_IDS)
def test_a_sealed_position_opens_to_its_event_and_shows_nothing_of_it(event_id: str) -> None:
    sealed = SHARED.seal(event_id)
    assert sealed is not None and sealed.startswith(POSITION_PREFIX)
    assert event_id.removeprefix("evt_") not in sealed
    assert SHARED.seal(event_id) != sealed  # a fresh nonce each time: equal positions do not look equal
    assert SHARED.open(sealed) == event_id
    assert len(sealed) <= 128  # within MAX_EVENT_ID, what Last-Event-ID and after may hold


@given(EVENT_IDS, st.data())
def test_a_changed_token_does_not_open(event_id: str, data: st.DataObject) -> None:
    sealed = SHARED.seal(event_id)
    assert sealed is not None
    body = sealed.removeprefix(POSITION_PREFIX)
    at = data.draw(st.integers(0, len(body) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    tampered = POSITION_PREFIX + body[:at] + replacement + body[at + 1 :]
    if tampered == sealed:
        return
    try:
        opened = SHARED.open(tampered)
    except NotFoundError:
        return
    # A change in the padding bits of the last base64 character decodes to the same bytes.
    assert opened == event_id


def test_ids_and_none_pass_through_and_strangers_do_not_open() -> None:
    assert SHARED.open(None) is None and SHARED.seal(None) is None
    assert SHARED.open("evt_1M8T9R6D0E9TA") == "evt_1M8T9R6D0E9TA"
    assert SHARED.shown("evt_1M8T9R6D0E9TA", admin=True) == "evt_1M8T9R6D0E9TA"
    other = Positions(bytes(32))
    for stranger in (other.seal("evt_1M8T9R6D0E9TA"), "pos_", "pos_!!!", "pos_" + "A" * 60):
        with pytest.raises(NotFoundError):
            SHARED.open(stranger)


def test_the_key_lives_in_the_store_so_positions_outlive_a_restart(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store("kept")
    sealed = Positions.of_store(store).seal("evt_1M8T9R6D0E9TA")
    store.close()
    reopened = open_store("kept")
    assert Positions.of_store(reopened).open(sealed) == "evt_1M8T9R6D0E9TA"
    elsewhere = open_store("other")
    with pytest.raises(NotFoundError):
        Positions.of_store(elsewhere).open(sealed)
