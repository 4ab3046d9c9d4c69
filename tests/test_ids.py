"""Memory ids: sortable, round-trip, strict on bad input."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink.errors import ValidationError
from memorylink.ids import ID_LENGTH, IdGenerator, created_at_of, decode_id, encode_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ids = st.integers(min_value=0, max_value=(1 << 63) - 1)


@given(ids)
def test_round_trip_and_length(value: int) -> None:
    text = encode_id(value)
    assert len(text) == ID_LENGTH
    assert decode_id(text) == value
    assert decode_id(text.lower()) == value


@given(ids)
def test_encoding_is_crockford_base32_of_the_integer(value: int) -> None:
    # Reference: RFC 4648 base32 of the 80-bit big-endian integer, mapped to Crockford's alphabet.
    rfc = base64.b32encode(value.to_bytes(10, "big")).decode()[3:]
    assert encode_id(value) == rfc.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD))


@given(ids, ids)
def test_string_order_is_numeric_order(a: int, b: int) -> None:
    assert (encode_id(a) < encode_id(b)) == (a < b)


def test_generator_is_strictly_increasing_and_timed() -> None:
    generator = IdGenerator()
    values = [generator.next() for _ in range(10_000)]
    assert values == sorted(set(values))
    assert created_at_of(values[0]).tzinfo is not None
    assert created_at_of(generator.next(at_ms=1_700_000_000_000)).timestamp() == 1_700_000_000.0


@pytest.mark.parametrize("bad", ["", "short", "ZZZZZZZZZZZZZZ", "UUUUUUUUUUUUU", "ZZZZZZZZZZZZZ", 42, None])
def test_bad_ids_are_validation_errors(bad: object) -> None:
    with pytest.raises(ValidationError):
        decode_id(bad)
