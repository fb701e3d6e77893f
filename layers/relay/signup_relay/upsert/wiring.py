"""The upsert side wired from settings, cached per container: `get_upserter(account).upsert(signup)`."""

from __future__ import annotations

from dataclasses import dataclass

from signup_relay.caches import per_container
from signup_relay.config import Settings, get_settings
from signup_relay.constant_contact.client import ConstantContactClient, Pacer, get_session
from signup_relay.constant_contact.names import NameDirectory
from signup_relay.models import Signup, UpsertResult
from signup_relay.tokens.reader import Refresher, TokenProvider
from signup_relay.upsert.policy import upsert_contact


@dataclass
class AccountUpserter:
    """One Constant Contact account's client, name directory and tokens."""

    client: ConstantContactClient
    names: NameDirectory
    tokens: TokenProvider

    def upsert(self, signup: Signup) -> UpsertResult:
        return upsert_contact(signup, client=self.client, names=self.names)


def get_pacer() -> Pacer:
    """One pacer per container: the rate limit belongs to the API key, whichever account is used."""
    return _pacer(get_settings().cc_requests_per_second)


@per_container(maxsize=4)
def _pacer(requests_per_second: float) -> Pacer:
    return Pacer(requests_per_second)


def get_refresher() -> Refresher:
    """Who refreshes tokens after a 401 survives a re-read: always the single writer (docs/token-refresh.md).

    TokenRefreshFunction when TOKEN_REFRESH_FUNCTION is set (deployed), else in-process (the local stack).
    """
    from signup_relay.tokens import refreshers

    return refreshers.get_refresher()


def _request_refresh(account_secret_id: str, stale_access_token: str) -> None:
    # Resolved on the first 401 that survives a re-read, not at wiring: an upsert that never sees one skips the
    # refreshers' import (~15-25 ms) and, deployed, the Lambda client its refresher creates (~100 ms).
    get_refresher()(account_secret_id, stale_access_token)


def get_upserter(account: str | None = None) -> AccountUpserter:
    """The cached upserter for an account secret id (None = settings.cc_secret_id).

    Cached per (secret id, settings): caches survive across invocations of a container, and settings that
    change (tests, the local stack) get a fresh wiring instead of a stale one.
    """
    settings = get_settings()
    return _upserter(account or settings.cc_secret_id, settings)


@per_container(maxsize=16)
def _upserter(secret_id: str, settings: Settings) -> AccountUpserter:
    tokens = TokenProvider(secret_id, refresher=_request_refresh, max_age_seconds=settings.secret_max_age_seconds)
    client = ConstantContactClient(
        base_url=settings.cc_api_base_url, tokens=tokens, session=get_session(), pacer=get_pacer()
    )
    return AccountUpserter(client=client, names=NameDirectory(client), tokens=tokens)
