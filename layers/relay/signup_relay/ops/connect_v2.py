"""`connect --api v2`: store a V2 account's API key and long-lived access token (docs/architecture.md §10).

V2 has no refresh token: the token an existing V2 integration holds lives for years, and new V2 keys can no longer
be created (https://v2.developer.constantcontact.com/v2-api-keys.html), so there is no authorization flow to run.
The pair is checked with one `GET /lists` before anything is stored; the secret is then never written by the
token refresh function (it skips V2 accounts).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import urllib3

from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.config import secret_in_family
from signup_relay.constant_contact.v2_client import ConstantContactV2Client
from signup_relay.errors import RelayError
from signup_relay.ops.oauth_flows import ConnectError
from signup_relay.tokens.endpoint import mask_token
from signup_relay.tokens.secret_store import API_V2, StagedSecretStore

V2_SECRET_DESCRIPTION = "signup-relay: Constant Contact V2 API key and access token (written by connect --api v2)"


@dataclass(frozen=True)
class V2ConnectOptions:
    secret_id: str
    api_key: str
    access_token: str
    base_url: str
    cc_secret_id: str  # CC_SECRET_ID: a `v3_account` must be in its family (the stack's IAM covers exactly those)
    v3_account: str | None = None
    dry_run: bool = False
    region: str | None = None


@dataclass
class _StaticToken:
    """The pair being checked: nothing to refresh, a 401 is final."""

    secret_id: str
    token: str
    key: str

    def access_token(self) -> str:
        return self.token

    def after_unauthorized(self, stale_access_token: str) -> str:
        raise ConnectError(
            "Constant Contact V2 refused the access token (401): it was revoked or belongs to another API key; "
            "nothing was stored"
        )

    def api_key(self) -> str:
        return self.key


def v2_secret(options: V2ConnectOptions, *, connected_at: float) -> dict[str, Any]:
    """The V2 account secret: `api`, `api_key`, `access_token`, `connected_at`, and `v3_account` when given."""
    if not options.api_key or not options.access_token:
        raise ConnectError("--api v2 needs the V2 API key and access token (env CC_V2_API_KEY, CC_V2_ACCESS_TOKEN)")
    secret: dict[str, Any] = {
        "api": API_V2,
        "api_key": options.api_key,
        "access_token": options.access_token,
        "connected_at": connected_at,
    }
    if options.v3_account:
        if options.v3_account == options.secret_id or not secret_in_family(options.v3_account, options.cc_secret_id):
            raise ConnectError(
                f"--v3-account must be another account secret under CC_SECRET_ID ({options.cc_secret_id!r} or "
                f"'{options.cc_secret_id}/<name>'), connected with `make connect` (V3), not {options.v3_account!r}"
            )
        secret["v3_account"] = options.v3_account
    return secret


def check_v2_pair(options: V2ConnectOptions, http: urllib3.PoolManager) -> int:
    """One `GET /lists` with the pair; returns how many lists the account has, or raises ConnectError."""
    client = ConstantContactV2Client(
        base_url=options.base_url,
        tokens=_StaticToken(options.secret_id, options.access_token, options.api_key),
        http=http,
        server_retries=0,
        throttle_retries=0,
    )
    try:
        return len(client.list_contact_lists())
    except RelayError as exc:
        raise ConnectError(f"Constant Contact V2 refused the pair; nothing was stored ({exc.message})") from exc


def connect_v2(
    options: V2ConnectOptions,
    *,
    http: urllib3.PoolManager,
    secrets_client: Any | None,
    clock: Clock = SYSTEM_CLOCK,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Check the pair, then store (or, dry run, print with the key and token masked) the V2 secret."""
    out = out if out is not None else sys.stdout
    secret = v2_secret(options, connected_at=clock.time())
    lists = check_v2_pair(options, http)
    shown = {k: mask_token(str(v)) if k in ("api_key", "access_token") else v for k, v in secret.items()}
    if options.dry_run:
        print(f"Dry run: the pair works ({lists} lists); would store in secret {options.secret_id!r}:", file=out)
        print(json.dumps(shown, indent=2, sort_keys=True), file=out, flush=True)
        return secret
    if secrets_client is None:
        raise ConnectError("no Secrets Manager client")
    version = StagedSecretStore(secrets_client, clock=clock).write_current(
        options.secret_id, secret, description=V2_SECRET_DESCRIPTION
    )
    print(
        f"Connected (V2, {lists} lists). Stored the API key and token in secret {options.secret_id!r} "
        f"(version {version}); V2 tokens are not refreshed: run this again if Constant Contact ever refuses it.",
        file=out,
        flush=True,
    )
    return secret
