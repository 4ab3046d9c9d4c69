"""One HTTP POST of one signed webhook, and the check of a webhook URL.

:class:`WebhookSender` turns every attempt into a :class:`SendResult` and never raises for network
trouble: timeouts, refused connections, resets and protocol errors all become ``Outcome.RETRY``
with a short one-line message. Redirects are not followed (a 3xx is a permanent failure), at most
64 KiB of a response body is read (and thrown away), and header values -- the signature and the
bearer token -- are never logged; log lines name only the endpoint's origin, since webhook URLs
often carry a secret in their path or query.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from memorylink._version import __version__
from memorylink.errors import ValidationError
from memorylink.events.retry import Outcome, classify, parse_retry_after

if TYPE_CHECKING:
    import httpx  # imported where used: it costs ~70 ms, and most processes never send a webhook

__all__ = [
    "MAX_RESPONSE_BYTES",
    "MAX_URL_LENGTH",
    "SendResult",
    "WebhookSender",
    "ip_literal",
    "is_private_address",
    "validate_webhook_url",
]

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
"""At most this much of a response body is read; the rest is dropped with the connection."""
MAX_URL_LENGTH = 2048

USER_AGENT = f"memorylink-webhooks/{__version__}"
_MAX_ERROR_CHARS = 200
_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_NUMERIC_HOST = re.compile(r"[0-9A-Fa-fXx.]+")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # controls other than tab


@dataclass(frozen=True, slots=True)
class SendResult:
    """The result of one delivery attempt.

    Attributes:
        outcome: What the attempt means for the delivery (see :func:`~memorylink.events.retry.classify`).
        status: The HTTP status, or ``None`` when no response arrived.
        error: A short one-line reason when not delivered (``"HTTP 500"``, ``"connection refused"`` ...).
        retry_after_s: The receiver's ``Retry-After`` in seconds, for retryable responses that sent one.
        duration_ms: Wall time of the attempt, response body included.
    """

    outcome: Outcome
    status: int | None
    error: str | None
    retry_after_s: float | None
    duration_ms: float


class WebhookSender:
    """Posts webhook bodies over one pooled :class:`httpx.Client`. Thread-safe, like the client.

    Args:
        transport: A transport to use instead of the network (tests).
        trust_env: Whether to honour proxy / ``.netrc`` / CA settings from the environment. Off by
            default so that, for example, ``.netrc`` credentials are never sent to a webhook URL.
        max_response_bytes: How much of a response body to read before dropping the connection.
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        trust_env: bool = False,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        import httpx

        if max_response_bytes < 0:
            raise ValueError(f"max_response_bytes must be >= 0, got {max_response_bytes}")
        self._max_response_bytes = max_response_bytes
        self._client = httpx.Client(
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            transport=transport,
            trust_env=trust_env,
        )

    def close(self) -> None:
        """Close the connection pool. Idempotent."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_s: float,
        bearer_token: str | None = None,
    ) -> SendResult:
        """POST ``body`` to ``url`` once and report what happened.

        Args:
            url: The endpoint (validate it with :func:`validate_webhook_url` when it is registered).
            body: The exact JSON bytes that were signed.
            headers: Extra headers (the signature headers ...); they override ``content-type``.
            timeout_s: The limit for each of connect, write, read and pool wait; reading the
                response body is also cut off after this long.
            bearer_token: Sent as ``Authorization: Bearer <token>`` when given.

        Returns:
            The result; network failures are results too (``Outcome.RETRY``), never exceptions.
        """
        import httpx

        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a finite number > 0, got {timeout_s}")
        origin = _origin(url)
        started = time.perf_counter()
        try:
            request_headers = _request_headers(headers, bearer_token)
        except ValueError as exc:  # a header that can never be sent; names only, never values
            return self._failure(Outcome.GIVE_UP, str(exc), origin, started)
        status: int | None = None
        retry_after: str | None = None
        try:
            with self._client.stream(
                "POST", url, content=body, headers=request_headers, timeout=httpx.Timeout(timeout_s)
            ) as response:
                status = response.status_code
                retry_after = response.headers.get("retry-after")
                self._drain(response, timeout_s)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            # This URL can never work; retrying would only burn attempts.
            return self._failure(Outcome.GIVE_UP, _one_line(f"invalid URL: {exc}"), origin, started)
        except httpx.HTTPError as exc:
            if status is None:
                return self._failure(Outcome.RETRY, _describe(exc, timeout_s), origin, started)
            # The status line arrived, so the receiver has answered; a broken body does not change that.
            logger.debug("webhook %s: reading the response body failed: %s", origin, _describe(exc, timeout_s))
        outcome = classify(status)
        duration_ms = (time.perf_counter() - started) * 1000.0
        retry_after_s = parse_retry_after(retry_after) if outcome is Outcome.RETRY else None
        error = None if outcome is Outcome.DELIVERED else f"HTTP {status}"
        logger.debug("webhook POST %s -> %s (%s) in %.1f ms", origin, status, outcome.value, duration_ms)
        return SendResult(
            outcome=outcome, status=status, error=error, retry_after_s=retry_after_s, duration_ms=duration_ms
        )

    def _drain(self, response: httpx.Response, timeout_s: float) -> None:
        """Read and discard up to ``max_response_bytes`` of the body, for at most ``timeout_s``.

        Raw bytes are read (no decompression), so a compressed body cannot expand in memory.
        Leaving the rest unread makes httpx close the connection instead of reusing it.
        """
        if self._max_response_bytes == 0 or response.is_stream_consumed:  # already read (mock transports)
            return
        deadline = time.monotonic() + timeout_s
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= self._max_response_bytes or time.monotonic() >= deadline:
                break

    @staticmethod
    def _failure(outcome: Outcome, error: str, origin: str, started: float) -> SendResult:
        duration_ms = (time.perf_counter() - started) * 1000.0
        logger.debug("webhook POST %s failed (%s) in %.1f ms: %s", origin, outcome.value, duration_ms, error)
        return SendResult(outcome=outcome, status=None, error=error, retry_after_s=None, duration_ms=duration_ms)


def _request_headers(headers: Mapping[str, str], bearer_token: str | None) -> httpx.Headers:
    """``content-type: application/json``, then ``headers``, then the bearer token; checked for sendability."""
    import httpx

    merged = httpx.Headers({"content-type": "application/json"})
    extra = dict(headers)
    if bearer_token is not None:
        extra["authorization"] = f"Bearer {bearer_token}"
    for name, value in extra.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name[:40]!r}")
        if not value.isascii() or _BAD_HEADER_VALUE.search(value):
            raise ValueError(f"invalid value for header {name!r} (non-ASCII or control characters)")
        merged[name] = value
    return merged


def _describe(exc: httpx.HTTPError, timeout_s: float) -> str:
    """A short, one-line reason for a failed attempt, without any header values."""
    return _one_line(_reason(exc, timeout_s))


def _reason(exc: httpx.HTTPError, timeout_s: float) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect ",
            httpx.ReadTimeout: "read ",
            httpx.WriteTimeout: "write ",
            httpx.PoolTimeout: "connection pool ",
        }.get(type(exc), "")
        return f"{phase}timed out after {float(timeout_s)} s"
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(cause, BrokenPipeError | ConnectionAbortedError):
            return "connection closed by peer"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed: {cause}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}"
    message = _one_line(str(exc))
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first (cycle-safe)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 3] + "..."


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` for log lines (the path and query may hold secrets)."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid url>"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{host}{port}"


def validate_webhook_url(url: str, *, allow_private: bool = True) -> str:
    """Check a webhook URL and return it normalised.

    Rules: ``http`` or ``https`` only, a host is required, no ``user:pass@``, no whitespace or
    control characters, at most 2048 characters, a port (if any) in 1..65535. The result has a
    lower-case scheme and host (IDNA-encoded), no default port and no fragment.

    Args:
        url: The URL as given.
        allow_private: When ``False``, also reject ``localhost`` and IP literals that are loopback,
            private, link-local, unspecified, multicast or reserved (including numeric IPv4 forms
            like ``2130706433``). Host names are not resolved, so this is not DNS-rebinding-proof.

    Raises:
        ValidationError: With ``field="url"``.
    """
    import httpx

    if not isinstance(url, str):
        raise ValidationError("the webhook URL must be a string", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(
            f"the webhook URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}",
            field="url",
            details={"limit": "url_length", "maximum": MAX_URL_LENGTH},
        )
    if not url:
        raise ValidationError("the webhook URL is empty", field="url")
    if _FORBIDDEN_CHARS.search(url):
        raise ValidationError("the webhook URL contains whitespace or control characters", field="url")
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes an IDNA host, which fails for a malformed label ("xn--")
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValidationError(f"the webhook URL is not valid: {_one_line(str(exc))}", field="url") from exc
    if parsed.scheme not in ("http", "https"):
        raise ValidationError("the webhook URL must use http or https", field="url")
    if not host:
        raise ValidationError("the webhook URL has no host", field="url")
    if parsed.userinfo:
        raise ValidationError("the webhook URL must not contain credentials (user:pass@)", field="url")
    address = ip_literal(parsed.host)
    if address is None and not _HOSTNAME.fullmatch(parsed.raw_host.decode("ascii", "replace")):
        raise ValidationError("the webhook URL's host is not a valid host name", field="url")
    port = parsed.port
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError(f"the webhook URL's port must be in 1..65535, got {port}", field="url")
    if not allow_private:
        _reject_private(parsed.host, address)
    default_port = 443 if parsed.scheme == "https" else 80
    normalised = parsed.copy_with(fragment=None, port=None if port == default_port else port)
    result = str(normalised)
    if len(result) > MAX_URL_LENGTH:  # IDNA encoding or percent-escaping can lengthen it
        raise ValidationError(f"the webhook URL is longer than {MAX_URL_LENGTH} characters", field="url")
    return result


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` spells in standard form (``10.0.0.1``, ``::1``), else None (a name)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _reject_private(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> None:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise ValidationError("the webhook URL must not point at localhost", field="url")
    if address is None and _NUMERIC_HOST.fullmatch(host):
        # Forms like "2130706433", "0x7f.1" or "127.1" that the system resolver reads as IPv4.
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            address = None
    if address is None:
        return
    if is_private_address(address):
        raise ValidationError(
            f"the webhook URL must not point at a private, loopback or link-local address ({address})", field="url"
        )


def is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is loopback, private, link-local, unspecified, multicast or reserved.

    An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) is judged as the IPv4 address it maps.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )
