"""Review of the remote client: a 2xx answer that is not memorylink's is a RemoteError, not pydantic's error."""

from __future__ import annotations

import httpx
import pytest
from client_helpers import FakeServer

from memorylink import MemoryLinkError, RemoteError
from memorylink.client import RemoteStore

URL = "http://memory.test"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>a captive portal</html>"),
        httpx.Response(200, json={"unexpected": True}),
        httpx.Response(201, json=[1, 2]),
    ],
)
def test_an_answer_that_is_not_the_model_is_a_remote_error(server: FakeServer, answer: httpx.Response) -> None:
    server.default = answer
    with RemoteStore(URL, transport=server.transport(), retries=0) as store:
        for call in (lambda: store.add("x"), lambda: store.list(), lambda: store.search("q")):
            with pytest.raises(RemoteError) as caught:
                call()
            assert isinstance(caught.value, MemoryLinkError)
            assert caught.value.code == "bad_response" and caught.value.status == answer.status_code
