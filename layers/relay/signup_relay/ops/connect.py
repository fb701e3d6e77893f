"""`python -m signup_relay.ops.connect` (`make connect ARGS=...`): authorize a Constant Contact account once.

Two OAuth2 flows (`ops/oauth_flows.py`), both asking for `offline_access contact_data`:

- `--flow device` (default): prints a verification URL and a user code, then polls the token endpoint at
  the interval the server asks for. Works over SSH and in CloudShell: the browser can be on another device.
- `--flow pkce`: authorization code with PKCE. Listens on 127.0.0.1 for the redirect, opens (and prints)
  the authorize URL, checks `state`, and exchanges the code with its verifier.

It then writes the secret (create or update; its fields: docs/token-refresh.md) — or, with `--dry-run`, prints
it with every token masked. After this, only the token_refresh function writes the secret.

`--api v2` stores a V2 account's API key and long-lived access token instead (`ops/connect_v2.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests
import urllib3

from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.config import DEFAULT_TOKEN_URL
from signup_relay.ops.connect_v2 import V2ConnectOptions, connect_v2
from signup_relay.ops.oauth_flows import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_DEVICE_URL,
    DEFAULT_REDIRECT_URI,
    ConnectError,
    ConnectOptions,
    authorize_device,
    authorize_pkce,
)
from signup_relay.tokens.endpoint import TokenGrant, mask_token
from signup_relay.tokens.secret_store import StagedSecretStore

SECRET_DESCRIPTION = "signup-relay: Constant Contact OAuth2 tokens (written by connect, refreshed by token_refresh)"


@dataclass
class ConnectResult:
    secret: dict[str, Any]
    stored_version_id: str | None = None
    messages: list[str] = field(default_factory=list)


# --- device flow ---------------------------------------------------------------------------------


def secret_from_grant(options: ConnectOptions, grant: TokenGrant, *, issued_at: float) -> dict[str, Any]:
    """The secret (docs/token-refresh.md) for a fresh grant."""
    if not grant.refresh_token:
        raise ConnectError(
            "Constant Contact returned no refresh token, so the connection could not be kept alive. "
            "The `offline_access` scope must be granted: check the app's settings and run connect again."
        )
    granted = set(grant.scope.split())
    if granted and "contact_data" not in granted:
        raise ConnectError(f"The grant lacks the contact_data scope (granted: {grant.scope}); nothing was stored.")
    return oauth_secret(
        client_id=options.client_id,
        client_secret=options.client_secret,
        refresh_token_type=options.refresh_token_type,
        grant=grant,
        issued_at=issued_at,
    )


def oauth_secret(
    *, client_id: str, client_secret: str, refresh_token_type: str, grant: TokenGrant, issued_at: float
) -> dict[str, Any]:
    """The secret for a pair issued at `issued_at`, unchecked (`secret_from_grant` checks a new grant).

    `refreshed_at` is the single writer's keep-alive clock: set to the issue time, the first scheduled check does
    not spend the refresh token that was just handed over.
    """
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_at": int(issued_at + grant.expires_in),
        "refresh_token_type": refresh_token_type,
        "refreshed_at": issued_at,
        "token_requested_at": issued_at,
    }


def masked(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The secret as shown to a person: tokens and the client secret masked."""
    hidden = ("access_token", "refresh_token", "client_secret")
    return {key: mask_token(str(value)) if key in hidden and value else value for key, value in secret.items()}


def connect(
    options: ConnectOptions,
    *,
    http: requests.Session,
    secrets_client: Any | None,
    clock: Clock = SYSTEM_CLOCK,
    open_url: Callable[[str], object] | None = None,
    out: TextIO = sys.stdout,
) -> ConnectResult:
    """Run the chosen flow and store (or, dry run, print) the secret."""
    issued_at = clock.time()
    if options.flow == "device":
        grant = authorize_device(options, http=http, clock=clock, out=out)
    elif options.flow == "pkce":
        grant = authorize_pkce(options, http=http, open_url=open_url, out=out)
    else:
        raise ConnectError(f"unknown flow {options.flow!r} (device or pkce)")
    secret = secret_from_grant(options, grant, issued_at=issued_at)
    result = ConnectResult(secret=secret)
    if options.dry_run:
        print(f"Dry run: would store in secret {options.secret_id!r}:", file=out)
        print(json.dumps(masked(secret), indent=2, sort_keys=True), file=out, flush=True)
        return result
    if secrets_client is None:
        raise ConnectError("no Secrets Manager client")
    result.stored_version_id = StagedSecretStore(secrets_client, clock=clock).write_current(
        options.secret_id, secret, description=SECRET_DESCRIPTION
    )
    print(
        f"Connected. Stored the tokens in secret {options.secret_id!r} (version {result.stored_version_id}); "
        "the token_refresh function keeps them fresh from now on.",
        file=out,
        flush=True,
    )
    return result


# --- CLI --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> ConnectOptions | V2ConnectOptions:
    from signup_relay.config import get_settings

    parser = argparse.ArgumentParser(
        prog="python -m signup_relay.ops.connect",
        description="Authorize a Constant Contact account (OAuth2 device flow or authorization code + PKCE) "
        "and store its tokens in Secrets Manager.",
    )
    parser.add_argument("--secret-id", default=get_settings().cc_secret_id, help="secret to create or update")
    parser.add_argument("--client-id", default=env.get("CC_CLIENT_ID", ""), help="API key (env CC_CLIENT_ID)")
    parser.add_argument(
        "--client-secret",
        default=env.get("CC_CLIENT_SECRET", ""),
        help="client secret, if the app has one (env CC_CLIENT_SECRET; prefer the env over the command line)",
    )
    parser.add_argument("--flow", choices=("device", "pkce"), default="device")
    parser.add_argument(
        "--refresh-token-type",
        choices=("rotating", "long_lived"),
        default="rotating",
        help="as set in the app's settings (the refresh function corrects it after its first refresh)",
    )
    parser.add_argument("--authorize-url", default=DEFAULT_AUTHORIZE_URL)
    parser.add_argument("--token-url", default=env.get("CC_TOKEN_URL", "") or DEFAULT_TOKEN_URL)
    parser.add_argument("--device-url", default=DEFAULT_DEVICE_URL)
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI, help="must match the app's redirect URI")
    parser.add_argument("--region", default=None, help="AWS region of the secret (default: the AWS config's)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the redirect (pkce)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL only (pkce)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be stored, tokens masked")
    parser.add_argument("--api", choices=("v3", "v2"), default="v3", help="v2: store a V2 API key and access token")
    parser.add_argument(
        "--v3-account",
        default=None,
        help="v2: the V3 account secret (under CC_SECRET_ID) of the same Constant Contact account, used for "
        "contacts deleted in the UI that V2 cannot see",
    )
    args = parser.parse_args(argv)
    if args.api == "v2":
        settings = get_settings()
        return V2ConnectOptions(
            secret_id=args.secret_id,
            api_key=env.get("CC_V2_API_KEY", ""),
            access_token=env.get("CC_V2_ACCESS_TOKEN", ""),
            base_url=settings.cc_v2_api_base_url,
            cc_secret_id=settings.cc_secret_id,
            v3_account=args.v3_account,
            dry_run=args.dry_run,
            region=args.region,
        )
    if not args.client_id:
        parser.error("--client-id (or env CC_CLIENT_ID) is required: the API key of your Constant Contact app")
    return ConnectOptions(
        secret_id=args.secret_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        flow=args.flow,
        refresh_token_type=args.refresh_token_type,
        authorize_url=args.authorize_url,
        token_url=args.token_url,
        device_url=args.device_url,
        redirect_uri=args.redirect_uri,
        region=args.region,
        dry_run=args.dry_run,
        open_browser=not args.no_browser,
        timeout_seconds=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv, os.environ)
    secrets_client = None
    if not options.dry_run:
        import boto3

        secrets_client = boto3.client("secretsmanager", region_name=options.region)
    try:
        if isinstance(options, V2ConnectOptions):
            connect_v2(options, http=urllib3.PoolManager(), secrets_client=secrets_client)
            return 0
        connect(
            options,
            http=requests.Session(),
            secrets_client=secrets_client,
            open_url=webbrowser.open if options.open_browser else None,
        )
    except ConnectError as exc:
        print(f"connect: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("connect: interrupted; nothing was stored.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
