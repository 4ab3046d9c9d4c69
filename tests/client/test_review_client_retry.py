"""Review of the retry policy: every wait is bounded, whatever the attempt count or the numbers given."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink import ValidationError
from memorylink.client import Retries


@given(attempt=st.integers(1, 10_000), base=st.floats(0, 10), cap=st.floats(0, 60))
def test_a_late_attempt_waits_at_most_the_cap(attempt: int, base: float, cap: float) -> None:
    # 2.0 ** 1024 overflows a float: "retry for a long time" (attempts=2000) must not crash at try 1025.
    wait = Retries(attempts=10_001, backoff_s=base, max_backoff_s=cap).backoff(attempt)
    assert 0 <= wait <= cap


@pytest.mark.parametrize("name", ["backoff_s", "max_backoff_s", "max_retry_after_s"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_wait_that_is_not_a_finite_number_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        Retries(**{name: value})  # type: ignore[arg-type]
    assert caught.value.field == f"retries.{name}"
