"""A non-admin may not point a webhook at the server's own network (unless the server allows it).

Unit checks drive :func:`check_public_webhook_url` with a stand-in resolver; the route checks
use the real guard, a user's API key and the default ``ServerSettings``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from auth_helpers import AuthApp, make_auth_app
from hypothesis import given
from hypothesis import strategies as st

from memorylink import EventSettings, MemoryStore, Settings
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.errors import ValidationError
from memorylink.events.sender import is_private_address
from memorylink.server.webhook_targets import check_public_webhook_url

W = "/api/v1/webhooks"


def resolving_to(*addresses: str) -> Any:
    def resolve(host: str, port: int) -> Sequence[Any]:
        family = socket.AF_INET6
        return [(family if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


def unresolvable(host: str, port: int) -> Sequence[Any]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_literals_and_localhost_are_refused(url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_public_webhook_url(url, resolve=resolving_to("93.184.215.14"))
    assert raised.value.field == "url"
    assert "only admins" in str(raised.value) and "private_webhook_urls" in str(raised.value)


@pytest.mark.parametrize(
    ("addresses", "found"),
    [
        (("10.0.0.7",), "10.0.0.7"),
        (("93.184.215.14", "127.0.0.1"), "127.0.0.1"),  # one private address is enough
        (("2606:2800:220:1::1", "fd00::5"), "fd00::5"),
        (("fe80::1%eth0",), "fe80::1"),  # a scoped link-local address
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(addresses: tuple[str, ...], found: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_public_webhook_url("https://hooks.example.com/in", resolve=resolving_to(*addresses))
    assert raised.value.field == "url"
    assert raised.value.details["address"] == found
    assert "hooks.example.com" in str(raised.value)


def test_public_targets_and_unresolvable_names_pass() -> None:
    check_public_webhook_url("https://hooks.example.com/in", resolve=resolving_to("93.184.215.14", "2606:2800::1"))
    check_public_webhook_url("https://93.184.215.14/in", resolve=unresolvable)
    # Not resolvable now means not reachable now; the check cannot say more, so it lets it be.
    check_public_webhook_url("https://not-yet.example.com/in", resolve=unresolvable)


def test_a_malformed_url_gets_the_stores_own_error() -> None:
    with pytest.raises(ValidationError, match="http or https") as raised:
        check_public_webhook_url("ftp://example.com/x", resolve=unresolvable)
    assert "only admins" not in str(raised.value)


@given(st.ip_addresses())
def test_literals_are_refused_exactly_when_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    url = f"http://{host}/hook"
    try:
        check_public_webhook_url(url, resolve=unresolvable)
    except ValidationError:
        refused = True
    else:
        refused = False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    judged = mapped if mapped is not None else address
    expected = (
        judged.is_loopback
        or judged.is_private
        or judged.is_link_local
        or judged.is_unspecified
        or judged.is_multicast
        or judged.is_reserved
    )
    assert refused == expected == is_private_address(address)


# -- the routes --------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[AuthApp, MemoryStore, dict[str, str]]]:
    settings = Settings(events=EventSettings(deliver=False))
    with MemoryStore.open(tmp_path / "s", key=bytes(range(32)), embedder=HashingEmbedder(), settings=settings) as store:
        app = make_auth_app(store, private_webhook_urls="admins")  # the default ServerSettings
        headers = {"X-API-Key": app.key(user_id="alice")}
        yield app, store, headers


def test_a_user_cannot_add_or_move_an_endpoint_onto_the_servers_network(
    served: tuple[AuthApp, MemoryStore, dict[str, str]],
) -> None:
    app, store, alice = served
    refused = app.client.post(W, json={"url": "http://169.254.169.254/latest/meta-data"}, headers=alice)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == "url"
    assert "only admins" in error["message"]
    assert store.webhooks.list() == []  # nothing was registered

    created = app.client.post(W, json={"url": "https://93.184.215.14/hook"}, headers=alice)
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    moved = app.client.patch(f"{W}/{hook_id}", json={"url": "http://127.0.0.1:6379/"}, headers=alice)
    assert moved.status_code == 422, moved.text
    assert store.webhooks.get(hook_id).url == "https://93.184.215.14/hook"  # unchanged
    renamed = app.client.patch(f"{W}/{hook_id}", json={"description": "still public"}, headers=alice)
    assert renamed.status_code == 200, renamed.text


def test_admins_may_and_the_setting_lets_everyone(
    served: tuple[AuthApp, MemoryStore, dict[str, str]], tmp_path: Any
) -> None:
    app, store, _ = served
    admin = {"X-API-Key": app.key(user_id="root", scopes=("admin",))}
    created = app.client.post(W, json={"url": "http://127.0.0.1:9/hook", "user_id": "alice"}, headers=admin)
    assert created.status_code == 201, created.text
    assert store.webhooks.get(created.json()["id"]).user_id == "alice"

    with MemoryStore.open(tmp_path / "open", key=bytes(range(32)), embedder=HashingEmbedder()) as other:
        everyone = make_auth_app(other, private_webhook_urls="everyone")
        user = {"X-API-Key": everyone.key(user_id="alice")}
        allowed = everyone.client.post(W, json={"url": "http://127.0.0.1:9/hook"}, headers=user)
        assert allowed.status_code == 201, allowed.text
        assert allowed.json()["user_id"] == "alice"


def test_the_default_is_admins_only() -> None:
    from memorylink.server import ServerSettings

    assert ServerSettings().private_webhook_urls == "admins"
    with pytest.raises(ValueError, match="admins"):
        ServerSettings(private_webhook_urls="anyone")  # type: ignore[arg-type]
