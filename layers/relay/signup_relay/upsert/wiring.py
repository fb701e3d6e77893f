"""The upsert side wired from settings, cached per container: `get_upserter(account, api).upsert(signup)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from signup_relay.caches import per_container
from signup_relay.config import Settings, get_settings
from signup_relay.constant_contact.client import ConstantContactClient
from signup_relay.constant_contact.names import ListDirectory, NameDirectory
from signup_relay.constant_contact.transport import Pacer, get_http
from signup_relay.errors import PermanentError
from signup_relay.models import Signup, UpsertResult
from signup_relay.tokens.reader import Refresher, TokenProvider
from signup_relay.upsert.policy import upsert_contact

if TYPE_CHECKING:
    from signup_relay.constant_contact.v2_client import ConstantContactV2Client


@dataclass
class AccountUpserter:
    """One Constant Contact account's client, name directory and tokens."""

    client: ConstantContactClient
    names: NameDirectory
    tokens: TokenProvider
    quota_key: None = None  # the V3 app key's quota, the fleet's (docs/architecture.md §12)

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


@dataclass
class V2AccountUpserter:
    """One V2 account's client, list directory and credentials, and (when the secret names a V3 account in
    `v3_account`) the V3 upserter that writes what V2 cannot see (docs/architecture.md §10)."""

    client: ConstantContactV2Client
    lists: ListDirectory
    tokens: TokenProvider

    @property
    def quota_key(self) -> str:
        """The V2 API key's id: its own daily quota (a `v3_account` fallback spends the app key's)."""
        return self.client.quota_key

    def upsert(self, signup: Signup) -> UpsertResult:
        from signup_relay.upsert.v2_policy import upsert_contact_v2

        v3_account = self.tokens.secret_field("v3_account")
        v3_upsert = get_upserter(str(v3_account), "v3").upsert if v3_account else None
        return upsert_contact_v2(signup, client=self.client, lists=self.lists, v3_upsert=v3_upsert)


def get_upserter(account: str | None = None, api: str | None = None) -> AccountUpserter | V2AccountUpserter:
    """The cached upserter for an account secret id (None = settings.cc_secret_id) and API (a route's `api`;
    None = the account's: its secret says `"api": "v2"` for a V2 account, else V3).

    Cached per (secret id, settings): caches survive across invocations of a container, and settings that
    change (tests, the local stack) get a fresh wiring instead of a stale one.
    """
    settings = get_settings()
    secret_id = account or settings.cc_secret_id
    upserter = _upserter(secret_id, settings)
    if api == "v2" or (api is None and upserter.tokens.api() == "v2"):
        return _v2_upserter(secret_id, settings)
    return upserter


@per_container(maxsize=16)
def _upserter(secret_id: str, settings: Settings) -> AccountUpserter:
    tokens = TokenProvider(secret_id, refresher=_request_refresh, max_age_seconds=settings.secret_max_age_seconds)
    client = ConstantContactClient(base_url=settings.cc_api_base_url, tokens=tokens, http=get_http(), pacer=get_pacer())
    return AccountUpserter(client=client, names=NameDirectory(client), tokens=tokens)


@per_container(maxsize=16)
def _v2_upserter(secret_id: str, settings: Settings) -> V2AccountUpserter:
    # Imported on a V2 account's first sign-up: a V3 cold start skips the V2 client and policy (~4 ms).
    from signup_relay.constant_contact.v2_client import ConstantContactV2Client

    tokens = TokenProvider(secret_id, refresher=_no_v2_refresh, max_age_seconds=settings.secret_max_age_seconds)
    client = ConstantContactV2Client(
        base_url=settings.cc_v2_api_base_url, tokens=tokens, http=get_http(), pacer=get_pacer()
    )
    lists = ListDirectory(client.list_contact_lists, client.create_list)
    return V2AccountUpserter(client=client, lists=lists, tokens=tokens)


def _no_v2_refresh(account_secret_id: str, stale_access_token: str) -> None:
    # Reached only when a route says `api: v2` for an account whose secret is V3's: a configuration error.
    raise PermanentError(
        f"the route says api v2 but secret {account_secret_id} is not a V2 account: run `make connect ARGS='--api v2 "
        f"--secret-id {account_secret_id}'` or point the route at a V2 account"
    )
