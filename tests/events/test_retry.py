"""Retry policy, outcome classification, Retry-After parsing and the circuit breaker."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from memorylink.events.retry import CircuitBreaker, Outcome, RetryPolicy, classify, parse_retry_after

# --------------------------------------------------------------------------------------------- policy

policies = st.builds(
    lambda initial, extra, multiplier, jitter, attempts: RetryPolicy(
        initial_delay_s=initial,
        max_delay_s=min(86400.0, initial + extra),
        multiplier=multiplier,
        jitter=jitter,
        max_attempts=attempts,
    ),
    initial=st.floats(min_value=0.001, max_value=3600.0),
    extra=st.floats(min_value=0.0, max_value=86400.0),
    multiplier=st.floats(min_value=1.0, max_value=10.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    attempts=st.integers(min_value=1, max_value=50),
)
attempt_numbers = st.integers(min_value=1, max_value=200)


def reference_base(policy: RetryPolicy, attempt: int) -> float:
    """The un-jittered delay, computed without float overflow."""
    exponent = (attempt - 1) * math.log(policy.multiplier)
    if exponent > math.log(policy.max_delay_s / policy.initial_delay_s) + 1e-9:
        return policy.max_delay_s
    return min(policy.max_delay_s, policy.initial_delay_s * policy.multiplier ** (attempt - 1))


def test_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.initial_delay_s, policy.max_delay_s) == (8, 1.0, 900.0)
    assert (policy.multiplier, policy.jitter) == (2.0, 0.2)
    assert [policy.base_delay_s(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert policy.base_delay_s(40) == 900.0
    assert not policy.exhausted(7)
    assert policy.exhausted(8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": 51},
        {"initial_delay_s": 0},
        {"initial_delay_s": 3601},
        {"max_delay_s": 86401},
        {"multiplier": 0.5},
        {"multiplier": 11},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"initial_delay_s": math.nan},
        {"max_delay_s": math.inf},
        {"unknown": 1},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        RetryPolicy(**kwargs)


def test_max_delay_below_initial_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"max_delay_s \(5\.0\) must be at least initial_delay_s"):
        RetryPolicy(initial_delay_s=10, max_delay_s=5)


def test_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(pydantic.ValidationError):
        policy.max_attempts = 3  # type: ignore[misc]


def test_attempt_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempt"):
        RetryPolicy().delay_s(0)


@given(policy=policies, attempt=attempt_numbers, seed=st.integers(min_value=0, max_value=2**32))
def test_delay_within_jitter_band(policy: RetryPolicy, attempt: int, seed: int) -> None:
    base = reference_base(policy, attempt)
    assert policy.base_delay_s(attempt) == pytest.approx(base, rel=1e-9)
    delay = policy.delay_s(attempt, rng=random.Random(seed))
    assert 0.0 <= delay <= policy.max_delay_s
    assert (1.0 - policy.jitter) * base * (1 - 1e-9) <= delay <= base * (1 + 1e-9)


@given(policy=policies, attempt=attempt_numbers, seed=st.integers(min_value=0, max_value=2**32))
def test_delay_is_deterministic_given_rng(policy: RetryPolicy, attempt: int, seed: int) -> None:
    first = policy.delay_s(attempt, rng=random.Random(seed))
    assert policy.delay_s(attempt, rng=random.Random(seed)) == first


@given(
    policy=policies,
    attempt=attempt_numbers,
    retry_after=st.floats(min_value=0.0, max_value=1e12) | st.just(math.inf),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_retry_after_raises_the_delay_but_never_above_max(
    policy: RetryPolicy, attempt: int, retry_after: float, seed: int
) -> None:
    plain = policy.delay_s(attempt, rng=random.Random(seed))
    honoured = policy.delay_s(attempt, retry_after_s=retry_after, rng=random.Random(seed))
    assert honoured == min(policy.max_delay_s, max(plain, retry_after))
    assert plain <= honoured <= policy.max_delay_s


@given(policy=policies, attempt=attempt_numbers, retry_after=st.floats(max_value=0.0) | st.just(math.nan))
def test_nonsense_retry_after_never_makes_the_delay_negative(
    policy: RetryPolicy, attempt: int, retry_after: float
) -> None:
    delay = policy.delay_s(attempt, retry_after_s=retry_after, rng=random.Random(0))
    assert 0.0 <= delay <= policy.max_delay_s


@given(policy=policies)
def test_upper_bound_is_monotone_non_decreasing(policy: RetryPolicy) -> None:
    bounds = [policy.base_delay_s(n) for n in range(1, 120)]
    assert all(a <= b for a, b in itertools.pairwise(bounds))
    assert bounds[0] == policy.initial_delay_s
    assert bounds[-1] <= policy.max_delay_s


def test_zero_jitter_is_exact_and_full_jitter_spans_the_band() -> None:
    exact = RetryPolicy(jitter=0.0)
    assert [exact.delay_s(n) for n in range(1, 5)] == [1.0, 2.0, 4.0, 8.0]
    full = RetryPolicy(jitter=1.0, initial_delay_s=10, max_delay_s=10)
    rng = random.Random(1)
    samples = [full.delay_s(1, rng=rng) for _ in range(500)]
    assert min(samples) < 1.0 and max(samples) > 9.0


def test_jitter_is_spread_evenly_over_the_band() -> None:
    policy = RetryPolicy(jitter=0.5, initial_delay_s=100, max_delay_s=100)
    rng = random.Random(7)
    samples = [policy.delay_s(1, rng=rng) for _ in range(2000)]
    assert sum(samples) / len(samples) == pytest.approx(75.0, rel=0.02)  # uniform on [50, 100]
    assert sum(1 for s in samples if s == 100.0) < 20
    assert sum(1 for s in samples if s < 62.5) > 400  # the lowest quarter of the band gets its share


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(multiplier=10.0)
    assert policy.base_delay_s(10_000) == 900.0
    assert policy.delay_s(10_000, rng=random.Random(3)) <= 900.0


# ----------------------------------------------------------------------------------------- classify


def expected_outcome(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (408, 429) or 500 <= status < 600:
        return Outcome.RETRY
    return Outcome.GIVE_UP


@pytest.mark.parametrize("status", range(100, 600))
def test_classify_every_status(status: int) -> None:
    assert classify(status) is expected_outcome(status)


def test_classify_spot_checks() -> None:
    assert classify(None) is Outcome.RETRY
    assert classify(200) is classify(204) is classify(299) is Outcome.DELIVERED
    assert classify(408) is classify(429) is classify(500) is classify(503) is Outcome.RETRY
    for status in (100, 101, 301, 302, 304, 400, 401, 403, 404, 410, 413, 422, 600, 0, -1):
        assert classify(status) is Outcome.GIVE_UP, status


# -------------------------------------------------------------------------------------- Retry-After

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("  120 ", 120.0),
        ("86400", 86400.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("-5", None),
        ("1.5", None),
        ("+3", None),
        ("soon", None),
        ("7 seconds", None),
        ("Wed, 32 Foo 2015 99:99:99 GMT", None),
        ("9" * 400, None),
    ],
)
def test_parse_retry_after_seconds_and_garbage(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert later.endswith("GMT")
    assert parse_retry_after(later, now=NOW) == 90.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now=NOW) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 13:00:30 +0100", now=NOW) == 30.0  # a numeric zone


def test_parse_retry_after_past_date_clamps_to_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0


def test_parse_retry_after_naive_now_is_utc_and_default_now_works() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:10 GMT", now=naive) == 10.0
    other_zone = NOW.astimezone(timezone(timedelta(hours=5)))
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:10 GMT", now=other_zone) == 10.0
    far_future = format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)
    seconds = parse_retry_after(far_future)
    assert seconds is not None and 86400 < seconds <= 2 * 86400


@given(st.integers(min_value=0, max_value=10**12))
def test_parse_retry_after_round_trips_integers(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or (result >= 0.0 and math.isfinite(result))


# ------------------------------------------------------------------------------------------ breaker


def test_breaker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="cooldown_s"):
        CircuitBreaker(cooldown_s=-1)
    with pytest.raises(ValueError, match="cooldown_s"):
        CircuitBreaker(cooldown_s=math.inf)


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10)
    assert breaker.state(0) == "closed"
    breaker.record_failure(0)
    breaker.record_failure(1)
    assert breaker.state(1) == "closed" and breaker.allow(1)
    breaker.record_failure(2)
    assert breaker.state(2) == "open"
    assert breaker.consecutive_failures == 3
    assert breaker.probe_at() == 12
    assert not breaker.allow(2)
    assert not breaker.allow(11.999)
    assert breaker.state(11.999) == "open"


def test_success_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10)
    breaker.record_failure(0)
    breaker.record_success()
    breaker.record_failure(1)
    assert breaker.state(1) == "closed"
    breaker.record_failure(2)
    assert breaker.state(2) == "open"


def test_half_open_allows_exactly_one_probe() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10)
    breaker.record_failure(100)
    assert breaker.state(109) == "open"
    assert breaker.state(110) == "half_open"  # reading the state does not take the probe
    assert breaker.state(110) == "half_open"
    assert breaker.allow(110)
    assert breaker.state(110) == "half_open"
    assert breaker.probe_at() is None
    assert not breaker.allow(110)
    assert not breaker.allow(10_000)  # still waiting for the probe's result
    breaker.record_success()
    assert breaker.state(10_000) == "closed"
    assert breaker.allow(10_000) and breaker.allow(10_000)
    assert breaker.consecutive_failures == 0


def test_failed_probes_double_the_cooldown_up_to_16x_and_success_resets() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=5)
    breaker.record_failure(0)
    breaker.record_failure(0)
    now = 0.0
    seen = []
    for _ in range(7):
        now += breaker.cooldown_s
        assert not breaker.allow(now - 0.001)
        assert breaker.allow(now)
        breaker.record_failure(now)
        assert breaker.state(now) == "open"
        seen.append(breaker.cooldown_s)
    assert seen == [10, 20, 40, 80, 80, 80, 80]
    now += 80
    assert breaker.allow(now)
    breaker.record_success()
    assert breaker.cooldown_s == 5
    breaker.record_failure(now)
    assert breaker.state(now) == "closed"  # the threshold applies again
    breaker.record_failure(now)
    assert breaker.state(now) == "open" and breaker.probe_at() == now + 5


def test_late_failure_while_open_keeps_the_timer() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10)
    breaker.record_failure(0)
    breaker.record_failure(8)  # an attempt that started before the breaker opened
    assert breaker.probe_at() == 10
    assert breaker.cooldown_s == 10
    assert breaker.allow(10)


def test_zero_cooldown_goes_straight_to_half_open() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=0)
    breaker.record_failure(5)
    assert breaker.state(5) == "half_open"
    assert breaker.allow(5)
    assert not breaker.allow(5)
    breaker.record_failure(5)
    assert breaker.cooldown_s == 0
    assert breaker.allow(5)
    assert "half_open" in repr(breaker)


# A small reference model of the breaker, and random operation sequences checked against it.


@dataclass
class ModelBreaker:
    threshold: int
    base: float
    cooldown: float = 0.0
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    def __post_init__(self) -> None:
        self.cooldown = self.base

    def state(self, now: float) -> str:
        if self.probing:
            return "half_open"
        if self.opened_at is None:
            return "closed"
        return "half_open" if now >= self.opened_at + self.cooldown else "open"

    def allow(self, now: float) -> bool:
        current = self.state(now)
        if current == "closed":
            return True
        if current == "half_open" and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self.probing, self.cooldown = 0, None, False, self.base

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.probing:
            self.probing = False
            self.cooldown = min(2 * self.cooldown, 16 * self.base)
            self.opened_at = now
        elif self.opened_at is None and self.failures >= self.threshold:
            self.opened_at = now


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.real: CircuitBreaker | None = None
        self.model: ModelBreaker | None = None

    @precondition(lambda self: self.real is None)
    @rule(threshold=st.integers(min_value=1, max_value=4), cooldown=st.sampled_from([0.0, 1.0, 3.0, 10.0]))
    def create(self, threshold: int, cooldown: float) -> None:
        self.real = CircuitBreaker(failure_threshold=threshold, cooldown_s=cooldown)
        self.model = ModelBreaker(threshold=threshold, base=cooldown)

    @precondition(lambda self: self.real is not None)
    @rule(step=st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0, 50.0, 200.0]))
    def advance(self, step: float) -> None:
        self.now += step

    @precondition(lambda self: self.real is not None)
    @rule()
    def allow(self) -> None:
        assert self.real is not None and self.model is not None
        assert self.real.allow(self.now) == self.model.allow(self.now)

    @precondition(lambda self: self.real is not None)
    @rule()
    def success(self) -> None:
        assert self.real is not None and self.model is not None
        self.real.record_success()
        self.model.success()

    @precondition(lambda self: self.real is not None)
    @rule()
    def failure(self) -> None:
        assert self.real is not None and self.model is not None
        self.real.record_failure(self.now)
        self.model.failure(self.now)

    @invariant()
    def agrees(self) -> None:
        if self.real is None or self.model is None:
            return
        assert self.real.state(self.now) == self.model.state(self.now)
        assert self.real.cooldown_s == self.model.cooldown
        assert self.real.consecutive_failures == self.model.failures
        assert self.model.base <= self.real.cooldown_s <= 16 * self.model.base


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBreakerMatchesReferenceModel = BreakerMachine.TestCase


@given(
    threshold=st.integers(min_value=1, max_value=5),
    events=st.lists(st.sampled_from(["ok", "fail"]), max_size=30),
)
def test_closed_breaker_opens_exactly_on_the_threshold_run(threshold: int, events: list[str]) -> None:
    breaker = CircuitBreaker(failure_threshold=threshold, cooldown_s=1e9)
    run = 0
    opened = False
    for event in events:
        if opened:
            break
        if event == "ok":
            breaker.record_success()
            run = 0
        else:
            breaker.record_failure(0.0)
            run += 1
        opened = run >= threshold
        assert breaker.state(0.0) == ("open" if opened else "closed")
