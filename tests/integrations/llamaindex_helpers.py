"""Shared pieces of the LlamaIndex adapter tests: no network, and closing LlamaIndex's chat store."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every socket connection to a non-loopback address fail (LlamaIndex must not phone home)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(address: Any) -> bool:
        if isinstance(address, (str, bytes)):  # AF_UNIX
            return True
        host = address[0]
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            raise OSError(f"network blocked in tests: connect to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            raise OSError(f"network blocked in tests: connect to {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns(socket.getaddrinfo))


def _no_dns(real: Any) -> Any:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost", "127.0.0.1", "::1", b"localhost"):
            raise OSError(f"network blocked in tests: resolve {host!r}")
        return real(host, *args, **kwargs)

    return getaddrinfo


def close_memory(memory: Any) -> None:
    """Dispose of a LlamaIndex ``Memory``'s SQL chat store.

    Its aiosqlite connection keeps a worker thread; left to the garbage collector, that
    thread later calls back into an event loop ``asyncio_run`` has closed, and pytest
    reports the thread's exception against whichever test happens to be running.
    """
    engine = getattr(memory.sql_store, "_async_engine", None)
    if engine is not None:
        asyncio.run(engine.dispose())
