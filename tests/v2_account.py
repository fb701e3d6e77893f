"""A V2 account secret seeded from the sandbox's V2 key and token, the way `connect --api v2` writes it
(docs/architecture.md §10). A plain function: the integration tests and the benchmarks both use it.
Call inside an active `moto.mock_aws()`.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

from local.cc_sandbox import Sandbox
from signup_relay.ops.connect_v2 import V2ConnectOptions, v2_secret
from signup_relay.tokens.secret_store import StagedSecretStore


def seed_v2_secret(
    sandbox: Sandbox, secret_id: str, *, cc_secret_id: str, v3_account: str | None = None
) -> dict[str, Any]:
    """Store the sandbox's V2 API key and access token as `secret_id`; returns the secret."""
    options = V2ConnectOptions(
        secret_id=secret_id,
        api_key=sandbox.v2_api_key,
        access_token=sandbox.v2_access_token,
        base_url=sandbox.v2_base_url,
        cc_secret_id=cc_secret_id,
        v3_account=v3_account,
    )
    secret = v2_secret(options, connected_at=time.time())
    StagedSecretStore(boto3.client("secretsmanager")).write_current(secret_id, secret)
    return secret
