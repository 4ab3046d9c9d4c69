"""Serve a store over MCP (stdio or HTTP) for the subprocess tests: what `memorylink --store DIR mcp` does.

Usage: python serve_mcp.py STORE_DIR KEY_FILE [--http --port N --token T] [--user-id U] [--agent-id A] [--admin]

The store uses the hashing embedder and the raw key in KEY_FILE (hex), so no model is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memorylink import MemoryStore
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.mcp import create_server, run_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("key_file")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token")
    parser.add_argument("--user-id")
    parser.add_argument("--agent-id")
    parser.add_argument("--admin", action="store_true")
    args = parser.parse_args()
    key = bytes.fromhex(Path(args.key_file).read_text().strip())
    with MemoryStore.open(args.store, key=key, embedder=HashingEmbedder()) as store:
        server = create_server(store, user_id=args.user_id, agent_id=args.agent_id, admin=args.admin)
        run_server(
            server,
            transport="http" if args.http else "stdio",
            host=args.host,
            port=args.port,
            bearer_token=args.token,
        )


if __name__ == "__main__":
    main()
