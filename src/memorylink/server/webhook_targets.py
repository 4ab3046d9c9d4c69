"""Where a non-admin may point a webhook: not at this server's own network.

A webhook makes the server send requests, and ``POST /webhooks/{id}/test`` reports what came
back, so an endpoint on a loopback, private or link-local address (the server itself, the LAN,
a cloud metadata service) would let any user probe what only the server can reach. Unless
``ServerSettings.private_webhook_urls`` is ``"everyone"``, the routes refuse such URLs from
non-admin callers: IP literals (in every spelling the resolver accepts), ``localhost``, and host
names whose addresses, looked up when the URL is given, include one. A name that resolves
elsewhere later (DNS rebinding) is not caught; an egress firewall is the complete answer.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

from memorylink.errors import ValidationError
from memorylink.events.sender import ip_literal, is_private_address, validate_webhook_url

__all__ = ["Resolver", "check_public_webhook_url"]

logger = logging.getLogger(__name__)

_ADMINS_ONLY = "on this server only admins may register such endpoints (ServerSettings.private_webhook_urls)"

Resolver = Callable[[str, int], Sequence[Any]]
"""``socket.getaddrinfo``-shaped: ``(host, port)`` to address-info tuples (the address is ``info[4][0]``)."""


def _getaddrinfo(host: str, port: int) -> Sequence[Any]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_public_webhook_url(url: str, *, resolve: Resolver = _getaddrinfo) -> None:
    """Refuse a webhook URL that points at a loopback, private, link-local or reserved address.

    Raises:
        ValidationError: With ``field="url"``; ``details["address"]`` names the address found.
    """
    import httpx

    normalised = validate_webhook_url(url)  # a malformed URL gets the store's own error
    try:
        validate_webhook_url(normalised, allow_private=False)  # localhost, and IP literals in any spelling
    except ValidationError as exc:
        raise ValidationError(f"{exc}; {_ADMINS_ONLY}", field="url") from None
    parsed = httpx.URL(normalised)
    host = parsed.host
    if ip_literal(host) is not None:
        return  # a public literal: validate_webhook_url has judged it
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = resolve(host, port)
    except (OSError, UnicodeError):
        # Unresolvable now, so unreachable now: sending fails the same way until it resolves.
        logger.debug("webhook host %s does not resolve; accepted unchecked", host)
        return
    for info in infos:
        address = ip_literal(str(info[4][0]).split("%", 1)[0])  # a scoped IPv6 address ends "%eth0"
        if address is not None and is_private_address(address):
            raise ValidationError(
                f"the webhook URL's host {host} resolves to {address}, a private, loopback or link-local "
                f"address; {_ADMINS_ONLY}",
                field="url",
                details={"address": str(address)},
            )
