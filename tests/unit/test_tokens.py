"""TokenProvider's 401 recovery and refresh_tokens() against a scripted token endpoint and an in-memory store."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from requests.adapters import HTTPAdapter

from signup_relay.errors import AuthError, ReauthorizationRequiredError, ServerError
from signup_relay.tokens import InProcessRefresher, TokenProvider, refresh_tokens

SECRET_ID = "signup-relay/constant-contact"
TOKEN_URL = "https://authz.example.test/oauth2/default/v1/token"


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
    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value
        self.writes: list[dict[str, Any]] = []

    def read(self, secret_id: str) -> dict[str, Any]:
        return dict(self.value)

    def write(self, secret_id: str, value: dict[str, Any]) -> None:
        self.writes.append(value)
        self.value = dict(value)


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


class TokenEndpoint(HTTPAdapter):
    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.request = request
        return response


def session_for(endpoint: TokenEndpoint) -> requests.Session:
    session = requests.Session()
    session.mount("https://", endpoint)
    return session


def test_refresh_posts_basic_auth_and_a_form_body_and_stores_the_new_pair() -> None:
    # Given a stored rotating pair and a token endpoint that rotates it
    store = MemoryStore(secret())
    endpoint = TokenEndpoint((200, {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 86400}))
    # When tokens are refreshed at t=1,000
    updated = refresh_tokens(
        SECRET_ID, http=session_for(endpoint), token_url=TOKEN_URL, store=store, clock=lambda: 1000
    )
    # Then the request used Basic client_id:client_secret and grant_type=refresh_token in the form body
    sent = endpoint.requests[0]
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(str(sent.body)) == {"grant_type": ["refresh_token"], "refresh_token": ["rt-1"]}
    # And the new pair was stored with its expiry and type, keeping the client credentials
    assert store.writes == [updated]
    assert updated["access_token"] == "at-2"
    assert updated["refresh_token"] == "rt-2"
    assert updated["expires_at"] == 87400
    assert updated["refresh_token_type"] == "rotating"
    assert updated["client_secret"] == "csecret"


def test_a_returned_identical_refresh_token_is_recorded_as_long_lived() -> None:
    store = MemoryStore(secret())
    endpoint = TokenEndpoint((200, {"access_token": "at-2", "refresh_token": "rt-1", "expires_in": 86400}))
    updated = refresh_tokens(SECRET_ID, http=session_for(endpoint), token_url=TOKEN_URL, store=store)
    assert updated["refresh_token_type"] == "long_lived"


def test_invalid_grant_requires_reauthorization_and_stores_nothing() -> None:
    store = MemoryStore(secret())
    endpoint = TokenEndpoint((400, {"error": "invalid_grant", "error_description": "expired refresh token"}))
    with pytest.raises(ReauthorizationRequiredError) as caught:
        refresh_tokens(SECRET_ID, http=session_for(endpoint), token_url=TOKEN_URL, store=store)
    assert "connect" in str(caught.value)
    assert store.writes == []


def test_a_token_endpoint_outage_is_transient() -> None:
    store = MemoryStore(secret())
    endpoint = TokenEndpoint((503, {}))
    with pytest.raises(ServerError):
        refresh_tokens(SECRET_ID, http=session_for(endpoint), token_url=TOKEN_URL, store=store)


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


def test_the_in_process_refresher_skips_the_endpoint_when_the_secret_already_moved_on() -> None:
    # Given a secret already refreshed by a concurrent caller
    store = MemoryStore(secret("at-2", "rt-2"))
    endpoint = TokenEndpoint()
    refresher = InProcessRefresher(http=session_for(endpoint), token_url=TOKEN_URL, store=store)
    # When a caller holding the old token asks for a refresh
    refresher(SECRET_ID, "at-1")
    # Then the token endpoint was not called (a rotating refresh token is spent only once)
    assert endpoint.requests == []
    assert refresher.refreshes == 0


def test_the_in_process_refresher_refreshes_a_stale_secret() -> None:
    store = MemoryStore(secret("at-1"))
    endpoint = TokenEndpoint((200, {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 86400}))
    refresher = InProcessRefresher(http=session_for(endpoint), token_url=TOKEN_URL, store=store)
    refresher(SECRET_ID, "at-1")
    assert store.value["access_token"] == "at-2"
    assert refresher.refreshes == 1
