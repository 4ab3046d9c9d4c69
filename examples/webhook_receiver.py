"""A small webhook receiver that verifies memorylink's signatures (standard library only).

Run it, then point an endpoint at it:

    MEMORYLINK_RECEIVER_SECRET=whsec_... python examples/webhook_receiver.py 8765

    store.webhooks.add("http://127.0.0.1:8765/hooks", secret="whsec_...")

It answers 204 to a delivery whose signature verifies and 400 to one that does not (a
4xx is not retried), and skips a ``webhook-id`` it has already seen: delivery is at
least once, so a receiver de-duplicates.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memorylink.errors import WebhookVerificationError
from memorylink.events import verify


def make_server(
    secret: str, port: int = 0, on_event: Callable[[dict[str, Any]], None] | None = None
) -> ThreadingHTTPServer:
    """A receiver on 127.0.0.1 that verifies, de-duplicates and hands each event to ``on_event``."""
    seen: set[str] = set()
    lock = threading.Lock()
    handle = on_event or (lambda event: print(event["type"], event["data"], flush=True))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                verify(secret, dict(self.headers.items()), body)
            except WebhookVerificationError as error:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(error).encode())
                return
            message_id = self.headers["webhook-id"]
            with lock:
                duplicate = message_id in seen
                seen.add(message_id)
            if not duplicate:
                handle(json.loads(body))
            self.send_response(204)  # answer fast; do slow work elsewhere
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    secret = os.environ.get("MEMORYLINK_RECEIVER_SECRET")
    if not secret:
        sys.exit("set MEMORYLINK_RECEIVER_SECRET to the endpoint's whsec_ secret")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765  # 0: any free port
    server = make_server(secret, port)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/hooks", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
