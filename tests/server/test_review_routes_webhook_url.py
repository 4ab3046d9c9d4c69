"""Review of POST /api/v1/webhooks: a URL whose host is a malformed IDNA label is a 422, not a 500."""

from __future__ import annotations

import pytest
from server_helpers import ALICE, Api, assert_error

from memorylink import MemoryStore, ValidationError


@pytest.mark.parametrize("url", ["https://xn--/", "https://xn--zz.example/", "https://xn--zz/hook"])
def test_a_malformed_punycode_host_is_refused_naming_the_url(api: Api, store: MemoryStore, url: str) -> None:
    error = assert_error(api.as_(ALICE).post("/api/v1/webhooks", json={"url": url}), 422, "validation_error")
    assert error["details"]["field"] == "url"
    with pytest.raises(ValidationError) as caught:
        store.webhooks.add(url)
    assert caught.value.field == "url"
    assert store.webhooks.list() == []
