"""Accounts, API keys, passwords, tokens and the audit log, without HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memorylink import MemoryStore, NotFoundError, ValidationError
from memorylink.embedders.hashing import HashingEmbedder
from memorylink.errors import AuthenticationError
from memorylink.ids import decode_id
from memorylink.server.auth import Accounts, AlreadyExistsError, AuditLog, parse_api_key
from memorylink.server.auth.passwords import hash_password, verify_password
from memorylink.server.auth.tokens import TokenService, looks_like_jwt

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))
PASSWORD = "correct horse battery"


class Clock:
    """Seconds since the epoch that tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(store: MemoryStore, clock: Clock) -> Accounts:
    return Accounts(store.app_data, limits=store.settings.limits, clock=clock)


# -- passwords ---------------------------------------------------------------------------------


def test_password_hashes_are_salted_and_verify() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first)
    assert not verify_password(PASSWORD, "scrypt$not$a$hash")
    assert not verify_password(PASSWORD, "bcrypt$1$2$3$4$5")


# -- users -------------------------------------------------------------------------------------


def test_users_round_trip_and_never_store_the_password(accounts: Accounts, tmp_path: Path) -> None:
    alice = accounts.add_user("alice", PASSWORD)
    admin = accounts.add_user("root", PASSWORD + "x", role="admin", user_id="ops")
    assert (alice.user_id, alice.role) == ("alice", "user")
    assert (admin.user_id, admin.role) == ("ops", "admin")
    assert [u.username for u in accounts.users()] == ["alice", "root"]
    assert accounts.check_password("alice", PASSWORD) is not None
    assert accounts.check_password("alice", "wrong password") is None
    assert accounts.check_password("nobody", PASSWORD) is None
    assert "password_hash" not in alice.model_dump()
    for data in (p.read_bytes() for p in (tmp_path / "store").iterdir() if p.is_file()):
        assert PASSWORD.encode() not in data and b"alice" not in data


def test_bad_users_are_refused_with_the_field(accounts: Accounts) -> None:
    accounts.add_user("alice", PASSWORD)
    with pytest.raises(AlreadyExistsError) as exists:
        accounts.add_user("alice", PASSWORD)
    assert exists.value.details["field"] == "username"
    for username in ("", "has space", "-dash-first", "x" * 65):
        with pytest.raises(ValidationError) as caught:
            accounts.add_user(username, PASSWORD)
        assert caught.value.details["field"] == "username"
    with pytest.raises(ValidationError) as short:
        accounts.add_user("bob", "short")
    assert short.value.details["field"] == "password"
    with pytest.raises(ValidationError) as role:
        accounts.add_user("bob", PASSWORD, role="root")  # type: ignore[arg-type]
    assert role.value.details["field"] == "role"
    with pytest.raises(ValidationError) as user_id:
        accounts.add_user("bob", PASSWORD, user_id="u" * 200)
    assert user_id.value.details["field"] == "user_id"


def test_password_change_and_removal(accounts: Accounts) -> None:
    accounts.add_user("alice", PASSWORD)
    before = accounts.get_user("alice")
    assert before is not None
    accounts.set_password("alice", "a brand new password")
    after = accounts.get_user("alice")
    assert after is not None and after.token_version != before.token_version
    assert accounts.check_password("alice", PASSWORD) is None
    assert accounts.check_password("alice", "a brand new password") is not None
    key = accounts.create_key(username="alice")
    assert accounts.remove_user("alice") == [key.id]
    assert accounts.get_user("alice") is None
    assert accounts.key(key.id).revoked_at is not None
    with pytest.raises(NotFoundError):
        accounts.remove_user("alice")
    with pytest.raises(NotFoundError):
        accounts.set_password("alice", "whatever long")


# -- API keys ----------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_stored_hashed(accounts: Accounts, store: MemoryStore, tmp_path: Path) -> None:
    created = accounts.create_key(user_id="svc", scopes=["read"], name="ci")
    assert created.key.startswith(f"mlk_{created.id}_") and len(created.id) == 8
    assert parse_api_key(created.key) == (created.id, created.key.split("_", 2)[2])
    listed = accounts.keys()
    assert [k.id for k in listed] == [created.id]
    assert "key" not in listed[0].model_dump() and "secret_sha256" not in listed[0].model_dump()
    secret = created.key.split("_", 2)[2]
    stored = json.dumps(store.app_data.get_json("server.auth.keys", created.id))
    assert secret not in stored and created.key not in stored
    for data in (p.read_bytes() for p in (tmp_path / "store").iterdir() if p.is_file()):
        assert secret.encode() not in data
    record = accounts.verify_key(created.key)
    assert (record.user_id, record.scopes) == ("svc", ["read"])


def test_keys_refused_for_every_reason(accounts: Accounts, clock: Clock) -> None:
    created = accounts.create_key(user_id="svc", expires_days=1)
    reasons = {}
    for value in ("nonsense", created.key[:-1] + ("A" if created.key[-1] != "A" else "B"), "mlk_zzzzzzzz_" + "a" * 43):
        with pytest.raises(AuthenticationError) as caught:
            accounts.verify_key(value)
        reasons[value] = caught.value.details["reason"]
    assert sorted(reasons.values()) == ["malformed", "unknown", "unknown"]
    clock.now += 86_400
    with pytest.raises(AuthenticationError) as expired:
        accounts.verify_key(created.key)
    assert expired.value.details["reason"] == "expired"
    other = accounts.create_key(user_id="svc")
    accounts.revoke_key(other.id)
    with pytest.raises(AuthenticationError) as revoked:
        accounts.verify_key(other.key)
    assert revoked.value.details["reason"] == "revoked"


def test_key_scopes_and_owners_are_checked(accounts: Accounts) -> None:
    accounts.add_user("alice", PASSWORD)
    accounts.add_user("root", PASSWORD, role="admin")
    with pytest.raises(ValidationError) as beyond:
        accounts.create_key(username="alice", scopes=["admin"])
    assert beyond.value.details["field"] == "scopes"
    assert accounts.create_key(username="root", scopes=["admin"]).scopes == ["admin"]
    with pytest.raises(ValidationError) as unknown:
        accounts.create_key(user_id="x", scopes=["delete"])
    assert unknown.value.details["field"] == "scopes"
    with pytest.raises(ValidationError) as nobody:
        accounts.create_key()
    assert nobody.value.details["field"] == "user_id"
    with pytest.raises(NotFoundError):
        accounts.create_key(username="ghost")
    with pytest.raises(ValidationError) as mismatch:
        accounts.create_key(username="alice", user_id="bob")
    assert mismatch.value.details["field"] == "user_id"
    for too_short in (0, 1e-300, 1 / 1441):  # under a minute would round to a key expired when made
        with pytest.raises(ValidationError) as expiry:
            accounts.create_key(user_id="x", expires_days=too_short)
        assert expiry.value.details["field"] == "expires_days"
    assert accounts.create_key(user_id="x", expires_days=1 / 1440).expires_at is not None
    assert accounts.create_key(username="alice", scopes=["write", "read", "read"]).scopes == ["read", "write"]
    assert {k.username for k in accounts.keys(username="alice")} == {"alice"}
    assert {k.user_id for k in accounts.keys(user_id="root")} == {"root"}


def test_last_used_is_written_at_most_once_per_interval(accounts: Accounts, clock: Clock) -> None:
    created = accounts.create_key(user_id="svc")
    assert accounts.touch_key(created.id, interval_s=60) is True
    assert accounts.touch_key(created.id, interval_s=60) is False
    clock.now += 59
    assert accounts.touch_key(created.id, interval_s=60) is False
    clock.now += 1
    assert accounts.touch_key(created.id, interval_s=60) is True
    assert accounts.key(created.id).last_used_at is not None


def test_a_touch_never_undoes_a_revocation(accounts: Accounts) -> None:
    created = accounts.create_key(user_id="svc")
    accounts.revoke_key(created.id)
    accounts.touch_key(created.id, interval_s=0)
    assert accounts.key(created.id).revoked_at is not None


def test_accounts_survive_rotate_key(open_store: Callable[..., MemoryStore]) -> None:
    store = open_store()
    accounts = Accounts(store.app_data)
    accounts.add_user("alice", PASSWORD)
    created = accounts.create_key(username="alice")
    store.rotate_key(key=OTHER_KEY)
    store.close()
    reopened = open_store(key=OTHER_KEY)
    again = Accounts(reopened.app_data)
    assert again.check_password("alice", PASSWORD) is not None
    assert again.verify_key(created.key).id == created.id


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=200))
def test_garbage_keys_never_verify(value: str) -> None:
    with MemoryStore.open(None, embedder=HashingEmbedder()) as store:
        accounts = Accounts(store.app_data)
        accounts.create_key(user_id="svc")
        with pytest.raises(AuthenticationError):
            accounts.verify_key(value)


def test_the_signing_secret_is_made_once(store: MemoryStore) -> None:
    first = Accounts(store.app_data).secret("jwt")
    assert len(first) == 32
    assert Accounts(store.app_data).secret("jwt") == first
    assert Accounts(store.app_data).secret("other") != first


# -- tokens ------------------------------------------------------------------------------------


def test_tokens_verify_until_they_expire(clock: Clock) -> None:
    service = TokenService(b"s" * 32, ttl_s=3600, clock=clock)
    issued = service.issue(username="alice", user_id="a1", scopes=["read", "write"], version="v1")
    assert looks_like_jwt(issued.token) and issued.expires_in == 3600
    claims = service.verify(issued.token)
    assert (claims.username, claims.user_id, claims.version) == ("alice", "a1", "v1")
    assert claims.scopes == {"read", "write"}
    clock.now += 3599
    service.verify(issued.token)
    clock.now += 1
    with pytest.raises(AuthenticationError) as expired:
        service.verify(issued.token)
    assert expired.value.details["reason"] == "expired"


def test_tampered_and_foreign_tokens_fail(clock: Clock) -> None:
    service = TokenService(b"s" * 32, ttl_s=3600, clock=clock)
    token = service.issue(username="alice", user_id="alice", scopes=["read"], version="v1").token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scopes"] = ["admin", "read", "write"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{header}.{forged}.{signature}", token[:-2] + "xx", "a.b.c"):
        with pytest.raises(AuthenticationError):
            service.verify(bad)
    other = TokenService(b"o" * 32, ttl_s=3600, clock=clock)
    with pytest.raises(AuthenticationError):
        other.verify(token)
    import jwt

    unsigned = jwt.encode({"sub": "alice"}, key="", algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError):
        service.verify(unsigned)


# -- audit -------------------------------------------------------------------------------------


def test_the_audit_log_pages_newest_first(store: MemoryStore, clock: Clock) -> None:
    log = AuditLog(store.app_data, clock=clock)
    for number in range(7):
        clock.now += 1
        log.record(actor="cli", action="key.created", target=f"key:{number}")
    first = log.page(limit=3)
    assert [e.target for e in first.items] == ["key:6", "key:5", "key:4"]
    second = log.page(limit=3, cursor=first.next_cursor)
    assert [e.target for e in second.items] == ["key:3", "key:2", "key:1"]
    last = log.page(limit=3, cursor=second.next_cursor)
    assert [e.target for e in last.items] == ["key:0"] and last.next_cursor is None
    assert log.count() == 7
    with pytest.raises(ValidationError):
        log.page(limit=0)
    with pytest.raises(ValidationError):
        log.page(cursor="not-a-cursor")


def test_audit_fields_from_callers_are_kept_printable_and_short(store: MemoryStore) -> None:
    entry = AuditLog(store.app_data).record(actor="user:\x1b[31mevil" + "x" * 500, action="auth.login")
    assert entry.actor.isprintable() and len(entry.actor) <= 128


def test_old_audit_entries_are_pruned_as_new_ones_arrive(store: MemoryStore, clock: Clock) -> None:
    log = AuditLog(store.app_data, clock=clock, retention_days=30)
    for number in range(5):
        log.record(actor="cli", action="key.created", target=f"key:old{number}")
    clock.now += 31 * 86_400
    for number in range(250):  # the first append of a log, then every 200th, looks for expired entries
        log.record(actor="cli", action="key.created", target=f"key:new{number}")
    assert log.count() == 250
    assert all(e.target is not None and e.target.startswith("key:new") for e in log.page(limit=500).items)
    kept = AuditLog(store.app_data, clock=clock)  # no retention: nothing is pruned
    assert kept.prune(datetime.fromtimestamp(clock.now - 40 * 86_400, UTC)) == 0
    assert kept.prune(datetime.fromtimestamp(clock.now + 1, UTC)) == 250


def test_an_audit_id_taken_meanwhile_is_never_overwritten(store: MemoryStore, clock: Clock) -> None:
    log = AuditLog(store.app_data, clock=clock)
    other = AuditLog(store.app_data, clock=clock)  # another process's log over the same store
    taken = other.record(actor="cli", action="key.created", target="key:cli")
    real_next = log._ids.next
    draws = [decode_id(taken.id.removeprefix("aud_"))]  # the first id drawn is the one just taken

    def collide_once(at_ms: int | None = None) -> int:
        return draws.pop() if draws else real_next(at_ms=at_ms)

    log._ids.next = collide_once  # type: ignore[method-assign]
    mine = log.record(actor="server", action="key.revoked", target="key:srv")
    assert mine.id != taken.id
    assert {e.target for e in log.page(limit=10).items} == {"key:cli", "key:srv"}
