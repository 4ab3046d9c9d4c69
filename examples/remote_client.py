"""A memorylink server used from Python with the remote client, exactly like a local store.

Run it as is (``pip install "memorylink[server]"``): it starts its own server on a free
127.0.0.1 port over an in-memory store, creates an API key the way ``memorylink keys
create`` does, and then talks to the server through ``RemoteStore``. Against a server you
run yourself (``memorylink serve``), keep only ``use_the_server``.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from memorylink import LimitExceededError, MemoryStore, PermissionDeniedError
from memorylink.client import RemoteStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.server import ServerSettings, create_app
from memorylink.server.auth import AuthService


def use_the_server(url: str, admin_key: str, alice_key: str) -> None:
    """The client side: the same calls as on a MemoryStore."""
    with RemoteStore(url, api_key=admin_key) as store:
        batch = store.add_many(
            [
                {"text": "Alice prefers window seats on long flights", "tags": ["travel"], "user_id": "alice"},
                {"text": "Bob is allergic to peanuts", "tags": ["health"], "user_id": "bob"},
                {"text": "", "user_id": "bob"},
            ]
        )
        failed = batch.errors[0]
        print(f"stored {batch.succeeded}, failed {batch.failed}: item {failed.index}: {failed.error.message}")
        hit = store.search("window seats on flights", top_k=1).hits[0]
        print(f"best hit: {hit.memory.text!r} (user {hit.memory.user_id}, similarity {hit.similarity:.2f})")
        try:
            store.search("anything", top_k=10_000)
        except LimitExceededError as error:
            print(f"refused: limit {error.limit} is {error.maximum} (request {error.request_id})")

    # A user's key sees only that user's memories, and writes go to that user.
    with RemoteStore(url, api_key=alice_key) as alice:
        alice.add("Alice's passport expires in March", tags=["travel"])
        print("alice sees:", sorted(m.text for m in alice.list().items))
        try:
            alice.list(user_id="bob")
        except PermissionDeniedError as error:
            print(f"alice may not read bob's memories: {error.code}")


def main() -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        accounts = AuthService(store).accounts
        admin_key = accounts.create_key(scopes=["admin"], user_id="admin", name="example admin").key
        alice_key = accounts.create_key(scopes=["read", "write"], user_id="alice", name="alice's agent").key

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(create_app(store, ServerSettings()), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise SystemExit("the server did not start")
            time.sleep(0.01)
        try:
            use_the_server(f"http://127.0.0.1:{sock.getsockname()[1]}", admin_key, alice_key)
        finally:
            server.should_exit = True
            thread.join(15)


if __name__ == "__main__":
    main()
