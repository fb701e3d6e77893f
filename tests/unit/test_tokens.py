"""TokenProvider's 401 recovery against an in-memory secret (refreshing is token_refresh's: test_token_refresh.py)."""

from __future__ import annotations

from typing import Any

import pytest

from signup_relay.errors import AuthError
from signup_relay.tokens.reader import TokenProvider

SECRET_ID = "signup-relay/constant-contact"


def secret(access: str = "at-1", refresh: str = "rt-1") -> dict[str, Any]:
    return {
        "client_id": "cid",
        "client_secret": "csecret",
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": 0,
        "refresh_token_type": "rotating",
    }


class MemoryStore:
    """The secret as the single writer leaves it: tests replace `value` to play the writer."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def read(self, secret_id: str) -> dict[str, Any]:
        return dict(self.value)


class StoreBackedSecrets:
    """Stands in for Powertools' SecretsProvider: a cached read that force_fetch refreshes."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.cached: dict[str, Any] | None = None
        self.fetches = 0

    def get(self, name: str, max_age: int | None = None, transform: Any = None, force_fetch: bool = False) -> Any:
        if self.cached is None or force_fetch:
            self.fetches += 1
            self.cached = self.store.read(name)
        return self.cached


def provider(store: MemoryStore, refresher: Any, **kwargs: Any) -> TokenProvider:
    return TokenProvider(SECRET_ID, refresher=refresher, secrets=StoreBackedSecrets(store), **kwargs)  # type: ignore[arg-type]


def test_after_a_401_a_token_refreshed_by_someone_else_is_used_without_asking_the_refresher() -> None:
    # Given a cached token, then another writer refreshes the secret
    store = MemoryStore(secret("at-1"))
    asked: list[tuple[str, str]] = []
    tokens = provider(store, lambda *args: asked.append(args))
    assert tokens.access_token() == "at-1"
    store.value = secret("at-2", "rt-2")
    # When a 401 is reported for the cached token
    fresh = tokens.after_unauthorized("at-1")
    # Then the forced re-read found the new token and nobody refreshed
    assert fresh == "at-2"
    assert asked == []


def test_after_a_401_with_no_newer_token_the_refresher_is_asked_once() -> None:
    # Given a secret still holding the stale token, and a refresher that writes a new one
    store = MemoryStore(secret("at-1"))
    asked: list[tuple[str, str]] = []

    def refresher(secret_id: str, stale: str) -> None:
        asked.append((secret_id, stale))
        store.value = secret("at-2", "rt-2")

    tokens = provider(store, refresher)
    # When a 401 is reported
    fresh = tokens.after_unauthorized("at-1")
    # Then the refresher was asked with the secret id and the stale token, and the new token is returned
    assert asked == [(SECRET_ID, "at-1")]
    assert fresh == "at-2"


def test_a_refresher_that_changes_nothing_is_an_auth_error() -> None:
    tokens = provider(MemoryStore(secret("at-1")), lambda *args: None)
    with pytest.raises(AuthError):
        tokens.after_unauthorized("at-1")


def test_the_refresher_is_never_asked_twice_within_a_second() -> None:
    # Given a refresher that keeps rotating and a clock that does not move
    store = MemoryStore(secret("at-1"))
    slept: list[float] = []
    counter = iter(range(2, 10))

    def refresher(secret_id: str, stale: str) -> None:
        store.value = secret(f"at-{next(counter)}")

    tokens = provider(store, refresher, monotonic=lambda: 50.0, sleep=slept.append)
    # When two 401s for successive tokens come back to back
    second = tokens.after_unauthorized("at-1")
    tokens.after_unauthorized(second)
    # Then the second request waited out the rest of the second first
    assert slept == [1.0]
