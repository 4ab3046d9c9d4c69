"""schemathesis hooks of the run in test_schemathesis.py (loaded through ``SCHEMATHESIS_HOOKS``).

The stateful phase feeds ids from responses into later requests, so it finds the run's own
admin key in ``GET /api/v1/keys`` and revokes it with ``DELETE /api/v1/keys/{key_id}``; every
request after that would be a 401 and test nothing. This hook points such a request at a key
that does not exist (a documented 404) instead; every other key is fair game.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

PROTECTED_KEY_ID = os.environ["MEMORYLINK_FUZZ_KEY_ID"]
STAND_IN_KEY_ID = "notakey0"


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if case.method.upper() == "DELETE" and case.path_parameters.get("key_id") == PROTECTED_KEY_ID:
        case.path_parameters["key_id"] = STAND_IN_KEY_ID
