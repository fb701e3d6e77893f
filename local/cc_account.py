"""The Constant Contact account behind the local stack (the embedded sandbox, or the server at CC_API_BASE_URL) and
the secrets that account's names get: CC_SECRET_ID and every account a route names (one account behind them all)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local import stack_config

if TYPE_CHECKING:
    from signup_relay.routes import Routes


@dataclass(frozen=True)
class LocalAccount:
    """Where the handlers reach Constant Contact, and the secret (V3) and V2 pair its accounts get."""

    api_base_url: str
    token_url: str | None
    v2_base_url: str | None
    v2_pair: tuple[str, str]
    secret: dict[str, Any]


def external_account(external: stack_config.ConstantContactEnv, cc_v2_env: Mapping[str, str]) -> LocalAccount:
    """The server at CC_API_BASE_URL, with the tokens and the V2 pair from the environment."""
    from local.aws_resources import constant_contact_secret  # imports boto3: only once a stack starts

    return LocalAccount(
        api_base_url=external.api_base_url,
        token_url=external.token_url,
        v2_base_url=cc_v2_env.get("CC_V2_API_BASE_URL"),
        v2_pair=(cc_v2_env.get("CC_V2_API_KEY", ""), cc_v2_env.get("CC_V2_ACCESS_TOKEN", "")),
        secret=constant_contact_secret(
            client_id=external.client_id,
            client_secret=external.client_secret,
            access_token=external.access_token,
            refresh_token=external.refresh_token,
            # An unknown lifetime: assume a day; a placeholder token is due for refresh at once.
            expires_in=0 if external.access_token == stack_config.NO_ACCESS_TOKEN else 86_400,
        ),
    )


def sandbox_account(sandbox: Any) -> LocalAccount:
    """The embedded sandbox (started), with a grant it issues now."""
    from local.aws_resources import constant_contact_secret

    tokens = sandbox.issue_tokens()
    return LocalAccount(
        api_base_url=sandbox.base_url,
        token_url=sandbox.token_url,
        v2_base_url=sandbox.v2_base_url,
        v2_pair=(sandbox.v2_api_key, sandbox.v2_access_token),
        secret=constant_contact_secret(
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_in=int(tokens.get("expires_in", 86_400)),
        ),
    )


def put_account_secrets(routes: Routes, account: LocalAccount, *, cc_secret_id: str) -> None:
    """The Constant Contact secret under CC_SECRET_ID and every account a route names; the accounts of `api: v2`
    routes get the V2 pair instead, with CC_SECRET_ID as the V3 app of the same account."""
    from local.aws_resources import put_secret

    accounts = {cc_secret_id} | {r.account for r in routes.routes.values() if r.account}
    v2_accounts = {r.account for r in routes.routes.values() if r.options.api == "v2" and r.account} - {cc_secret_id}
    for name in sorted(accounts):
        if name in v2_accounts and all(account.v2_pair):
            put_secret(name, local_v2_secret(name, *account.v2_pair, cc_secret_id=cc_secret_id))
        else:
            put_secret(name, account.secret)


def local_v2_secret(account: str, api_key: str, access_token: str, *, cc_secret_id: str) -> dict[str, Any]:
    """A V2 account's secret as `connect --api v2` writes it, CC_SECRET_ID its V3 app (docs/architecture.md §10)."""
    from signup_relay.ops.connect_v2 import V2ConnectOptions, v2_secret

    options = V2ConnectOptions(
        secret_id=account,
        api_key=api_key,
        access_token=access_token,
        base_url="",
        cc_secret_id=cc_secret_id,
        v3_account=cc_secret_id,
    )
    return v2_secret(options, connected_at=time.time())
