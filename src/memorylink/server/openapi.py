"""The OpenAPI document of the REST API; ``python -m memorylink.server.openapi`` prints it.

``python -m memorylink.server.openapi > docs/openapi.json`` regenerates the published file
(a test fails when it drifts from what :func:`~memorylink.server.app.create_app` serves).
Routes declare their error statuses with :func:`error_responses`.
"""

from __future__ import annotations

import sys

from memorylink.server._openapi import PUBLIC_PATHS, SECURITY_SCHEMES, build_openapi, error_responses, schema_text

__all__ = ["PUBLIC_PATHS", "SECURITY_SCHEMES", "build_openapi", "error_responses", "main", "schema_text"]


def main() -> None:
    """Print the OpenAPI document (``python -m memorylink.server.openapi > docs/openapi.json``)."""
    sys.stdout.write(schema_text())


if __name__ == "__main__":
    main()
