"""The Constant Contact OAuth secret seeded from a sandbox grant, the way `connect` writes it (docs/token-refresh.md).

Plain functions, not fixtures: the integration tests and the benchmarks (`make bench`) both use them.
Call inside an active `moto.mock_aws()`.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

from local.cc_sandbox import Sandbox
from signup_relay.ops.connect import secret_from_grant
from signup_relay.ops.oauth_flows import ConnectOptions
from signup_relay.tokens.endpoint import TokenGrant
from signup_relay.tokens.secret_store import StagedSecretStore


def seed_oauth_secret(sandbox: Sandbox, secret_id: str, *, expires_in: int | None = None) -> dict[str, Any]:
    """Store a fresh sandbox grant as `secret_id` (created or updated); returns the secret.

    `expires_in` overrides the grant's lifetime as recorded in `expires_at` (e.g. to make it due for refresh).
    """
    grant = sandbox.issue_tokens()
    options = ConnectOptions(
        secret_id=secret_id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        refresh_token_type=sandbox.refresh_token_type,
    )
    token_grant = TokenGrant(
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_in=int(grant["expires_in"] if expires_in is None else expires_in),
    )
    secret = secret_from_grant(options, token_grant, issued_at=time.time())
    StagedSecretStore(boto3.client("secretsmanager")).write_current(secret_id, secret)
    return secret
