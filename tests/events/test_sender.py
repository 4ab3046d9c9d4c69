"""WebhookSender against a real HTTP server on 127.0.0.1 (and a few mock transports), plus URL validation."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memorylink._version import __version__
from memorylink.errors import ValidationError
from memorylink.events.retry import Outcome
from memorylink.events.sender import MAX_RESPONSE_BYTES, SendResult, WebhookSender, validate_webhook_url

BODY = b'{"id":"evt_1","type":"memory.created","data":{"text":"caf\xc3\xa9"}}'
SIGNED_HEADERS = {
    "webhook-id": "evt_1",
    "webhook-timestamp": "1700000000",
    "webhook-signature": "v1,c2lnbmF0dXJlLXNlY3JldA==",
}
BEARER = "tok-s3cret-bearer"
HANDLER_BOUND_S = 10.0  # no server socket operation blocks longer than this


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A recording HTTP server; ``respond`` decides the answer for each request."""

    url: str
    respond: Callable[[BaseHTTPRequestHandler], None]
    requests: list[Seen] = field(default_factory=list)
    write_errors: list[BaseException] = field(default_factory=list)
    bytes_written: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    handled: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)


def reply(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Callable[[Any], None]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


@pytest.fixture
def server() -> Iterator[Server]:
    holder: dict[str, Server] = {}

    class Handler(BaseHTTPRequestHandler):
        timeout = HANDLER_BOUND_S

        def _handle(self) -> None:
            state = holder["server"]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.requests.append(Seen(self.command, self.path, headers, body))
            state.arrived.set()
            try:
                state.respond(self)
            except OSError as exc:  # the client hung up (on purpose, in some tests)
                state.write_errors.append(exc)
            finally:
                state.handled.set()

        do_POST = do_GET = do_PUT = _handle  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    holder["server"] = Server(url=f"http://127.0.0.1:{port}/hook", respond=reply(200))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        holder["server"].stop.set()  # wake any handler that is "slow" on purpose
        httpd.shutdown()
        httpd.server_close()  # joins the handler threads; each is bounded by HANDLER_BOUND_S
        thread.join(HANDLER_BOUND_S)


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    with WebhookSender() as client:
        yield client


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A URL whose port is bound but not listening: connecting is refused, and nobody can take the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def post(sender: WebhookSender, url: str, **kwargs: Any) -> SendResult:
    kwargs.setdefault("timeout_s", 5.0)
    return sender.send(url, BODY, SIGNED_HEADERS, **kwargs)


# ------------------------------------------------------------------------------------ real server


@pytest.mark.parametrize("status", [200, 202, 204])
def test_delivered_and_the_server_saw_exactly_what_we_sent(server: Server, sender: WebhookSender, status: int) -> None:
    server.respond = reply(status, body=b"" if status == 204 else b'{"ok":true}')
    result = post(sender, server.url + "?x=1", bearer_token=BEARER)
    assert result == SendResult(Outcome.DELIVERED, status, None, None, result.duration_ms)
    assert result.duration_ms >= 0
    [seen] = server.requests
    assert seen.method == "POST"
    assert seen.path == "/hook?x=1"
    assert seen.body == BODY
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(BODY))
    assert seen.headers["user-agent"] == f"memorylink-webhooks/{__version__}"
    assert seen.headers["authorization"] == f"Bearer {BEARER}"
    for name, value in SIGNED_HEADERS.items():
        assert seen.headers[name] == value


def test_no_authorization_without_a_token_and_headers_can_override_content_type(
    server: Server, sender: WebhookSender
) -> None:
    result = sender.send(server.url, BODY, {"Content-Type": "application/cloudevents+json"}, timeout_s=5.0)
    assert result.outcome is Outcome.DELIVERED
    [seen] = server.requests
    assert "authorization" not in seen.headers
    assert seen.headers["content-type"] == "application/cloudevents+json"


def test_server_error_is_retried(server: Server, sender: WebhookSender) -> None:
    server.respond = reply(500, body=b"internal error")
    result = post(sender, server.url)
    assert (result.outcome, result.status, result.error, result.retry_after_s) == (
        Outcome.RETRY,
        500,
        "HTTP 500",
        None,
    )


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_errors_give_up(server: Server, sender: WebhookSender, status: int) -> None:
    server.respond = reply(status, {"Retry-After": "5"})
    result = post(sender, server.url)
    assert (result.outcome, result.status, result.error) == (Outcome.GIVE_UP, status, f"HTTP {status}")
    assert result.retry_after_s is None  # only retryable answers carry a wait


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(429, "7", 7.0), (503, "120", 120.0), (500, "3", 3.0)])
def test_retry_after_is_reported(
    server: Server, sender: WebhookSender, status: int, retry_after: str, expected: float
) -> None:
    server.respond = reply(status, {"Retry-After": retry_after})
    result = post(sender, server.url)
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, status, expected)
    assert result.error == f"HTTP {status}"


def test_retry_after_as_http_date(server: Server, sender: WebhookSender) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.respond = reply(503, {"Retry-After": when})
    result = post(sender, server.url)
    assert result.outcome is Outcome.RETRY
    assert result.retry_after_s is not None and 0 < result.retry_after_s <= 3600


def test_429_without_or_with_garbage_retry_after(server: Server, sender: WebhookSender) -> None:
    server.respond = reply(429)
    assert post(sender, server.url).retry_after_s is None
    server.respond = reply(429, {"Retry-After": "whenever"})
    result = post(sender, server.url)
    assert (result.outcome, result.retry_after_s) == (Outcome.RETRY, None)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(server: Server, sender: WebhookSender, status: int) -> None:
    server.respond = reply(status, {"Location": server.url + "/elsewhere"})
    result = post(sender, server.url)
    assert (result.outcome, result.status, result.error) == (Outcome.GIVE_UP, status, f"HTTP {status}")
    assert [seen.path for seen in server.requests] == ["/hook"]


def test_slow_server_times_out(server: Server, sender: WebhookSender) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        server.stop.wait(2.0)  # woken early at teardown
        reply(200)(handler)

    server.respond = slow
    result = post(sender, server.url, timeout_s=0.3)
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, None, None)
    assert result.error == "read timed out after 0.3 s"
    assert server.arrived.wait(HANDLER_BOUND_S)  # the request went out; only the answer was late
    assert len(server.requests) == 1


def test_refused_connection_is_retried(sender: WebhookSender, refusing_url: str) -> None:
    result = post(sender, refusing_url)
    assert (result.outcome, result.status, result.error) == (Outcome.RETRY, None, "connection refused")


def test_huge_body_is_not_read_to_the_end(server: Server, sender: WebhookSender) -> None:
    size = 10 * 1024 * 1024
    chunk = b"x" * 65536

    def huge(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        written = 0
        try:
            while written < size:
                handler.wfile.write(chunk)
                written += len(chunk)
        finally:
            server.bytes_written.append(written)

    server.respond = huge
    result = post(sender, server.url)
    assert (result.outcome, result.status, result.error) == (Outcome.DELIVERED, 200, None)
    assert server.handled.wait(HANDLER_BOUND_S)
    # Either the server noticed we hung up, or the kernel buffers swallowed all of it; both are fine.
    assert server.write_errors or server.bytes_written == [size]


def test_endless_body_is_cut_off(server: Server, sender: WebhookSender) -> None:
    chunk = b"y" * 65536
    limit = 256 * 1024 * 1024  # far beyond any socket buffer: reaching it means we read it all

    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()  # HTTP/1.0, no length: the body runs until the connection closes
        written = 0
        try:
            while written < limit and not server.stop.is_set():
                handler.wfile.write(chunk)
                written += len(chunk)
        finally:
            server.bytes_written.append(written)

    server.respond = endless
    result = post(sender, server.url)
    assert (result.outcome, result.status) == (Outcome.DELIVERED, 200)
    assert server.handled.wait(HANDLER_BOUND_S)
    assert server.write_errors, f"the server wrote {server.bytes_written} bytes without the client hanging up"
    assert server.bytes_written[0] < limit


def test_secrets_are_never_logged(server: Server, sender: WebhookSender, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="memorylink.events.sender"):
        post(sender, server.url + "/path-secret?token=query-secret", bearer_token=BEARER)
        server.respond = reply(500)
        post(sender, server.url + "/path-secret", bearer_token=BEARER)
    text = caplog.text
    assert "127.0.0.1" in text  # it does log, at DEBUG
    for secret in (BEARER, SIGNED_HEADERS["webhook-signature"], "path-secret", "query-secret"):
        assert secret not in text


def test_sender_reusable_and_closed_by_context_manager(server: Server) -> None:
    with WebhookSender() as client:
        for _ in range(3):
            assert post(client, server.url).outcome is Outcome.DELIVERED
    assert len(server.requests) == 3
    with pytest.raises(RuntimeError):
        post(client, server.url)
    client.close()  # idempotent


# -------------------------------------------------------------------------------- mock transports


def mock_sender(handler: Callable[[httpx.Request], httpx.Response]) -> WebhookSender:
    return WebhookSender(transport=httpx.MockTransport(handler))


def recording(captured: list[httpx.Request], status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(status)

    return handler


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ConnectTimeout("x"), "connect timed out after 1.5 s"),
        (httpx.ReadTimeout("x"), "read timed out after 1.5 s"),
        (httpx.WriteTimeout("x"), "write timed out after 1.5 s"),
        (httpx.PoolTimeout("x"), "connection pool timed out after 1.5 s"),
        (httpx.RemoteProtocolError("Server disconnected\nwithout sending a response."), None),
        (httpx.ReadError("boom"), "ReadError: boom"),
        (httpx.ConnectError("no route"), "ConnectError: no route"),
        (httpx.DecodingError("bad"), "DecodingError: bad"),
    ],
)
def test_transport_errors_become_retry_results(exc: Exception, error: str | None) -> None:
    with mock_sender(raising(exc)) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.5)
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, None, None)
    assert result.error is not None and "\n" not in result.error
    if error is not None:
        assert result.error == error
    else:
        assert result.error == "protocol error: Server disconnected without sending a response."


def test_os_level_causes_are_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as cause:
            raise httpx.ReadError("[Errno 104] Connection reset by peer") from cause

    with mock_sender(handler) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.0)
    assert (result.outcome, result.error) == (Outcome.RETRY, "connection reset by peer")


def test_long_error_messages_are_shortened() -> None:
    with mock_sender(raising(httpx.ReadError("z" * 5000))) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.0)
    assert result.error is not None and len(result.error) <= 200 and result.error.endswith("...")


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "http://[::1/hook"])
def test_unusable_urls_give_up_instead_of_raising(url: str) -> None:
    with WebhookSender() as client:
        result = client.send(url, BODY, {}, timeout_s=1.0)
    assert (result.outcome, result.status) == (Outcome.GIVE_UP, None)
    assert result.error is not None and result.error.startswith("invalid URL")


def answer(status: int, stream: httpx.SyncByteStream, headers: dict[str, str] | None = None) -> Callable[..., Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=stream)

    return handler


class CountingStream(httpx.SyncByteStream):
    """An endless response body that counts how much of it was pulled."""

    def __init__(self, chunk_size: int, fail_after: int | None = None) -> None:
        self.chunk_size = chunk_size
        self.fail_after = fail_after
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            if self.fail_after is not None and self.pulled >= self.fail_after:
                raise httpx.ReadError("connection lost mid-body")
            self.pulled += self.chunk_size
            yield b"z" * self.chunk_size

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("chunk_size", [1000, 4096, 65536, 100_000])
def test_reads_at_most_the_cap_of_an_endless_body(chunk_size: int) -> None:
    stream = CountingStream(chunk_size)
    with mock_sender(answer(200, stream)) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.0)
    assert result.outcome is Outcome.DELIVERED
    assert MAX_RESPONSE_BYTES <= stream.pulled < MAX_RESPONSE_BYTES + chunk_size
    assert stream.closed


def test_custom_cap_and_zero_cap() -> None:
    for cap, expected in [(0, 0), (10_000, 10_000)]:
        stream = CountingStream(1000)
        with WebhookSender(transport=httpx.MockTransport(answer(200, stream)), max_response_bytes=cap) as client:
            assert client.send("https://example.com/", BODY, {}, timeout_s=1.0).outcome is Outcome.DELIVERED
        assert stream.pulled == expected
    with pytest.raises(ValueError, match="max_response_bytes"):
        WebhookSender(max_response_bytes=-1)


def test_body_failure_after_the_status_keeps_the_status() -> None:
    stream = CountingStream(1000, fail_after=3000)
    with mock_sender(answer(200, stream)) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.0)
    assert (result.outcome, result.status, result.error) == (Outcome.DELIVERED, 200, None)
    stream = CountingStream(1000, fail_after=0)
    with mock_sender(answer(503, stream, {"Retry-After": "9"})) as client:
        result = client.send("https://example.com/hook", BODY, {}, timeout_s=1.0)
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.RETRY, 503, 9.0)


def test_request_shape_through_a_mock_transport() -> None:
    captured: list[httpx.Request] = []
    with mock_sender(recording(captured, 204)) as client:
        result = client.send("https://example.com/hook", BODY, {"X-Custom": "1"}, timeout_s=2.5, bearer_token="t")
    assert result.outcome is Outcome.DELIVERED
    [request] = captured
    assert request.method == "POST"
    assert request.content == BODY
    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["x-custom"] == "1"
    assert request.headers["accept-encoding"] == "identity"
    assert request.extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


@pytest.mark.parametrize(
    ("headers", "token", "named"),
    [
        ({"x-sig": "v1,abc\r\nx-injected: 1"}, None, "x-sig"),
        ({"x-sig": "caf\u00e9"}, None, "x-sig"),
        ({"bad name": "secret-value"}, None, "bad name"),
        ({}, "tok\nen", "authorization"),
        ({}, "t\u00f6ken", "authorization"),
    ],
)
def test_unsendable_headers_give_up_without_revealing_values(
    headers: dict[str, str], token: str | None, named: str
) -> None:
    captured: list[httpx.Request] = []
    with mock_sender(recording(captured)) as client:
        result = client.send("https://example.com/hook", BODY, headers, timeout_s=1.0, bearer_token=token)
    assert (result.outcome, result.status) == (Outcome.GIVE_UP, None)
    assert result.error is not None and named in result.error
    for value in [*headers.values(), token or "unused"]:
        assert value not in result.error
    assert captured == []


def test_bearer_token_wins_over_a_given_authorization_header() -> None:
    captured: list[httpx.Request] = []
    with mock_sender(recording(captured)) as client:
        client.send(
            "https://example.com/", BODY, {"Authorization": "Basic xyz", "X-A": "a\tb"}, timeout_s=1, bearer_token="t"
        )
    [request] = captured
    assert request.headers.get_list("authorization") == ["Bearer t"]
    assert request.headers["x-a"] == "a\tb"


@pytest.mark.parametrize("timeout_s", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_timeouts_are_programming_errors(sender: WebhookSender, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        sender.send("https://example.com/", BODY, {}, timeout_s=timeout_s)


# ---------------------------------------------------------------------------------- URL validation


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("HTTPS://Example.COM:443/Hook?a=1#frag", "https://example.com/Hook?a=1"),
        ("http://example.com:80/", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com:80/x", "https://example.com:80/x"),
        ("http://127.0.0.1:5000/hook", "http://127.0.0.1:5000/hook"),
        ("http://localhost:8000/hook", "http://localhost:8000/hook"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://bücher.de/hook", "https://xn--bcher-kva.de/hook"),
    ],
)
def test_valid_urls_are_normalised(url: str, expected: str) -> None:
    assert validate_webhook_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("example.com/hook", "http or https"),
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("http:///path", "no host"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com/a\nb", "whitespace"),
        ("https://exa%20mple.com/", "host name"),
        ("https://example.com:0/", "port"),
        ("https://example.com:70000/", "port"),
        ("http://[::1/", "not valid"),
        ("https://example.com/" + "a" * 2030, "2048"),
    ],
)
def test_invalid_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        validate_webhook_url(url)
    assert caught.value.field == "url"
    assert caught.value.details["field"] == "url"


def test_url_length_limit_is_inclusive() -> None:
    base = "https://example.com/"
    assert validate_webhook_url(base + "a" * (2048 - len(base))) == base + "a" * (2048 - len(base))
    with pytest.raises(ValidationError):
        validate_webhook_url(base + "a" * (2049 - len(base)))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://224.0.0.1/",
    ],
)
def test_private_targets_rejected_only_when_asked(url: str) -> None:
    validate_webhook_url(url)  # allowed by default (local receivers are normal in development)
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url, allow_private=False)
    assert caught.value.field == "url"


@pytest.mark.parametrize(
    "url", ["https://example.com/", "http://8.8.8.8/", "http://[2001:4860:4860::8888]/", "https://1e100.net/"]
)
def test_public_targets_pass_with_allow_private_false(url: str) -> None:
    assert validate_webhook_url(url, allow_private=False) == url


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(
    scheme=st.sampled_from(["http", "HTTP", "https", "Https"]),
    host=st.lists(labels, min_size=1, max_size=4).map(".".join),
    port=st.none() | st.integers(min_value=1, max_value=65535),
    path=st.from_regex(r"(/[A-Za-z0-9._~-]{0,12}){0,4}", fullmatch=True),
    query=st.none() | st.from_regex(r"[a-z]{1,5}=[A-Za-z0-9]{0,8}", fullmatch=True),
)
def test_normalisation_is_idempotent(scheme: str, host: str, port: int | None, path: str, query: str | None) -> None:
    url = f"{scheme}://{host.upper()}{'' if port is None else f':{port}'}{path}{'' if query is None else '?' + query}"
    once = validate_webhook_url(url)
    assert validate_webhook_url(once) == once
    assert once.startswith(scheme.lower() + "://" + host)
    assert ("@" in once) is False
