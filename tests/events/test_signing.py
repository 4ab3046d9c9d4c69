"""Standard Webhooks signing: the spec's test vector, agreement with the official package, verification errors."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import standardwebhooks.webhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink.errors import ValidationError, WebhookVerificationError
from memorylink.events.signing import (
    generate_secret,
    secret_key,
    sign,
    signature_header,
    verify,
    webhook_headers,
)

# The test vector of the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


def official_verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """The official package's check (json_parse=False: our bodies need not be JSON)."""
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)


def official_sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    return standardwebhooks.Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


@pytest.fixture
def frozen_official_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the official package's `datetime.now` return the test vector's time."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls.fromtimestamp(VECTOR_TIMESTAMP, tz=tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Frozen)


# --------------------------------------------------------------------------- the test vector


def test_test_vector_signature() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    assert official_sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_test_vector_headers_verify_with_both(frozen_official_clock: None) -> None:
    headers = webhook_headers([VECTOR_SECRET], VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    official_verify(VECTOR_SECRET, headers, VECTOR_BODY)
    # The frozen clock is what made the official check pass: a day later both reject it.
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP + 86_400)


def test_test_vector_key_is_the_base64_after_the_prefix() -> None:
    key = secret_key(VECTOR_SECRET)
    assert key == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert len(key) == 24  # the vector sits exactly on the minimum key size


# --------------------------------------------------------------------------- secrets


def test_generate_secret_is_whsec_with_32_random_bytes() -> None:
    made = {generate_secret() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(secret_key(secret)) == 32
        assert base64.b64decode(secret[len("whsec_") :]) == secret_key(secret)


@pytest.mark.parametrize("size", [24, 25, 32, 63, 64])
def test_secret_key_accepts_24_to_64_bytes(size: int) -> None:
    key = bytes(range(size))
    assert secret_key(whsec(key)) == key


@pytest.mark.parametrize(
    ("secret", "needle"),
    [
        (None, "whsec_"),
        (b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        (12345, "whsec_"),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),  # the prefix is required
        ("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        (" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "base64"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwx", "base64"),  # bad padding
        ("whsec_MfKQ9r8G KYqrTwjUPD8ILPZIo2LaLaSw", "base64"),
        ("whsec_", "24"),
        (whsec(bytes(23)), "24"),
        (whsec(bytes(65)), "64"),
        (whsec(bytes(1000)), "64"),
    ],
)
def test_secret_key_rejects_bad_secrets(secret: Any, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as caught:
        secret_key(secret)
    assert caught.value.field == "secret"
    assert caught.value.details["field"] == "secret"


def test_size_errors_name_both_limits() -> None:
    for key in (bytes(23), bytes(65)):
        with pytest.raises(ValidationError) as caught:
            secret_key(whsec(key))
        assert "24" in caught.value.message and "64" in caught.value.message


def test_sign_rejects_bad_secrets_and_message_ids() -> None:
    with pytest.raises(ValidationError) as caught:
        sign("not-a-secret", "msg_1", 1, b"")
    assert caught.value.field == "secret"
    for message_id in ("", None, 7):
        with pytest.raises(ValidationError) as caught:
            sign(VECTOR_SECRET, message_id, 1, b"")  # type: ignore[arg-type]
        assert caught.value.field == "message_id"


# --------------------------------------------------------------------------- headers and rotation


def test_signature_header_lists_every_secret_in_order() -> None:
    first, second = generate_secret(), generate_secret()
    header = signature_header([first, second], "msg_1", 100, b"body")
    assert header == f"{sign(first, 'msg_1', 100, b'body')} {sign(second, 'msg_1', 100, b'body')}"
    assert signature_header([second, first], "msg_1", 100, b"body") == " ".join(reversed(header.split(" ")))


@pytest.mark.parametrize("secrets", [[], (), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
def test_signature_header_needs_a_sequence_of_secrets(secrets: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        signature_header(secrets, "msg_1", 100, b"body")
    assert caught.value.field == "secret"
    with pytest.raises(ValidationError):
        webhook_headers(secrets, "msg_1", 100, b"body")


def test_webhook_headers_shape() -> None:
    headers = webhook_headers([VECTOR_SECRET], "msg_1", 1_700_000_000, b"{}")
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": sign(VECTOR_SECRET, "msg_1", 1_700_000_000, b"{}"),
    }


def test_rotation_header_verifies_under_either_secret_alone() -> None:
    old, new, stranger = generate_secret(), generate_secret(), generate_secret()
    now = int(time.time())
    body = b'{"type": "memory.created"}'
    headers = webhook_headers([new, old], "msg_rot", now, body)
    for secret in (old, new):
        verify(secret, headers, body, now=now)
        official_verify(secret, headers, body)
    with pytest.raises(WebhookVerificationError):
        verify(stranger, headers, body, now=now)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        official_verify(stranger, headers, body)


# --------------------------------------------------------------------------- verify


def good_headers(now: int = VECTOR_TIMESTAMP) -> dict[str, str]:
    return webhook_headers([VECTOR_SECRET], VECTOR_ID, now, VECTOR_BODY)


def test_verify_header_names_are_case_insensitive() -> None:
    headers = {name.upper() if i % 2 else name.title(): value for i, (name, value) in enumerate(good_headers().items())}
    assert "webhook-id" not in headers
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_verify_uses_the_current_time_by_default() -> None:
    now = int(time.time())
    verify(VECTOR_SECRET, good_headers(now), VECTOR_BODY)
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify(VECTOR_SECRET, good_headers(now - 3600), VECTOR_BODY)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_missing_or_empty_header(name: str) -> None:
    headers = good_headers()
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=name):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    headers[name] = ""
    with pytest.raises(WebhookVerificationError, match=name):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    "raw", ["abc", "1614265330.0", "1.6e9", " 1614265330", "1614265330 ", "1_614_265_330", "+1614265330", "١٦١٤"]
)
def test_verify_rejects_non_integer_timestamps(raw: str) -> None:
    headers = good_headers()
    headers["webhook-timestamp"] = raw
    with pytest.raises(WebhookVerificationError, match="integer"):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_verify_rejects_an_absurdly_long_timestamp() -> None:
    headers = good_headers()
    headers["webhook-timestamp"] = "9" * 10_000
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_verify_rejects_stale_or_future_timestamps(offset: int) -> None:
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify(VECTOR_SECRET, good_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + offset)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_verify_accepts_timestamps_within_the_tolerance(offset: int) -> None:
    verify(VECTOR_SECRET, good_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + offset)


def test_verify_tolerance_is_configurable() -> None:
    verify(VECTOR_SECRET, good_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + 3000, tolerance_s=3000)
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, good_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP + 11, tolerance_s=10)


def test_verify_only_v1_signatures_count() -> None:
    digest = VECTOR_SIGNATURE.partition(",")[2]
    headers = good_headers()
    for bad in (f"v1a,{digest}", f"v2,{digest}", digest, f"V1,{digest}", f"v1,{digest}x", "v1,", ","):
        headers["webhook-signature"] = bad
        with pytest.raises(WebhookVerificationError, match="signature"):
            verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    headers["webhook-signature"] = f"v1a,{digest} v2,abc  garbage {VECTOR_SIGNATURE}"
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_verify_rejects_tampering() -> None:
    headers = good_headers()
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, VECTOR_BODY + b" ", now=VECTOR_TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, {**headers, "webhook-id": VECTOR_ID + "x"}, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    moved = {**headers, "webhook-timestamp": str(VECTOR_TIMESTAMP + 1)}
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, moved, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_verify_with_a_bad_receiver_secret_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        verify("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", good_headers(), VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert caught.value.field == "secret"


def test_errors_are_memorylink_errors() -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify(VECTOR_SECRET, {}, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    assert caught.value.to_dict()["code"] == "webhook_verification_failed"


# --------------------------------------------------------------------------- properties

secret_strategy = st.one_of(
    st.builds(generate_secret),
    st.binary(min_size=24, max_size=64).map(whsec),
)
message_ids = st.text(min_size=1, max_size=40)
text_bodies = st.text(max_size=200).map(str.encode)


@settings(max_examples=150, deadline=None)
@given(
    secret=secret_strategy,
    other=secret_strategy,
    message_id=message_ids,
    offset=st.integers(min_value=-240, max_value=240),
    body=text_bodies,
    extra=st.text(min_size=1, max_size=5).map(str.encode),
)
def test_headers_verify_with_the_official_package_and_ours(
    secret: str, other: str, message_id: str, offset: int, body: bytes, extra: bytes
) -> None:
    now = int(time.time())
    timestamp = now + offset  # the official verifier checks against the real clock (5 minutes)
    headers = webhook_headers([secret], message_id, timestamp, body)
    official_verify(secret, headers, body)
    verify(secret, headers, body, now=now)
    verify(secret, headers, body)

    tampered = body + extra
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        official_verify(secret, headers, tampered)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, tampered, now=now)

    if secret_key(other) != secret_key(secret):
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            official_verify(other, headers, body)
        with pytest.raises(WebhookVerificationError):
            verify(other, headers, body, now=now)


@settings(max_examples=100, deadline=None)
@given(
    secret=secret_strategy,
    message_id=message_ids,
    timestamp=st.integers(min_value=0, max_value=253_402_300_799),  # the official sign() needs a datetime: year <= 9999
    body=text_bodies,
)
def test_our_signature_equals_the_official_one(secret: str, message_id: str, timestamp: int, body: bytes) -> None:
    assert sign(secret, message_id, timestamp, body) == official_sign(secret, message_id, timestamp, body)


@settings(max_examples=100, deadline=None)
@given(
    secrets=st.lists(secret_strategy, min_size=1, max_size=4),
    message_id=message_ids,
    timestamp=st.integers(min_value=0, max_value=2**40),
    body=st.binary(max_size=200),
    flip=st.integers(min_value=0),
)
def test_any_listed_secret_verifies_any_binary_body(
    secrets: list[str], message_id: str, timestamp: int, body: bytes, flip: int
) -> None:
    headers = webhook_headers(secrets, message_id, timestamp, body)
    assert len(headers["webhook-signature"].split(" ")) == len(secrets)
    for secret in secrets:
        verify(secret, headers, body, now=timestamp)
    if body:
        index = flip % len(body)
        tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(WebhookVerificationError):
            verify(secrets[0], headers, tampered, now=timestamp)
