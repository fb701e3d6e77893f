"""`connect --api v2` against the sandbox's V2 API and moto Secrets Manager: the pair is checked before it is
stored, the secret has the documented shape (README, "V2 accounts"), and a bad pair stores nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws

from local.cc_sandbox import Sandbox
from signup_relay.ops.connect import main, parse_args
from signup_relay.ops.connect_v2 import V2ConnectOptions, connect_v2
from signup_relay.ops.oauth_flows import ConnectError

BASE = "signup-relay/constant-contact"
LEGACY = f"{BASE}/legacy"


@pytest.fixture
def secrets_client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager")


def options(sandbox: Sandbox, **changes: Any) -> V2ConnectOptions:
    values: dict[str, Any] = {
        "secret_id": LEGACY,
        "api_key": sandbox.v2_api_key,
        "access_token": sandbox.v2_access_token,
        "base_url": sandbox.v2_base_url,
        "cc_secret_id": BASE,
    }
    return V2ConnectOptions(**{**values, **changes})


def stored(client: Any) -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=LEGACY)["SecretString"])


def test_a_working_pair_is_stored_as_a_v2_account(cc_sandbox_unthrottled: Sandbox, secrets_client: Any) -> None:
    # Given the account's V2 key and token, and its V3 app connected under CC_SECRET_ID
    sandbox = cc_sandbox_unthrottled
    out = io.StringIO()
    # When connect --api v2 runs
    connect_v2(options(sandbox, v3_account=BASE), http=urllib3.PoolManager(), secrets_client=secrets_client, out=out)
    # Then the secret holds the documented fields, and the pair was checked with one GET /lists
    secret = stored(secrets_client)
    assert set(secret) == {"api", "api_key", "access_token", "connected_at", "v3_account"}
    assert (secret["api"], secret["api_key"], secret["v3_account"]) == ("v2", sandbox.v2_api_key, BASE)
    assert [(r["method"], r["path"]) for r in sandbox.request_log] == [("GET", "/v2/lists")]
    assert out.getvalue() and sandbox.v2_access_token not in out.getvalue() and sandbox.v2_api_key not in out.getvalue()


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"access_token": "revoked-or-wrong-token"}, "401"), ({"api_key": "not-a-key"}, "mashery.not.authorized")],
)
def test_a_refused_pair_stores_nothing(
    cc_sandbox_unthrottled: Sandbox, secrets_client: Any, change: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConnectError, match=reason) as raised:
        connect_v2(options(cc_sandbox_unthrottled, **change), http=urllib3.PoolManager(), secrets_client=secrets_client)
    assert "nothing was stored" in raised.value.message
    assert secrets_client.list_secrets()["SecretList"] == []


def test_a_v3_account_outside_cc_secret_id_is_refused(cc_sandbox_unthrottled: Sandbox, secrets_client: Any) -> None:
    with pytest.raises(ConnectError, match="--v3-account must be another account secret under CC_SECRET_ID"):
        connect_v2(
            options(cc_sandbox_unthrottled, v3_account="other/cc"),
            http=urllib3.PoolManager(),
            secrets_client=secrets_client,
        )
    assert secrets_client.list_secrets()["SecretList"] == []


def test_the_cli_reads_the_pair_from_the_environment_and_dry_run_masks_it(
    cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = cc_sandbox_unthrottled
    env = {"CC_V2_API_KEY": sandbox.v2_api_key, "CC_V2_ACCESS_TOKEN": sandbox.v2_access_token}
    for name, value in {**env, "CC_V2_API_BASE_URL": sandbox.v2_base_url}.items():
        monkeypatch.setenv(name, value)
    parsed = parse_args(["--api", "v2", "--secret-id", LEGACY, "--dry-run"], env)
    assert isinstance(parsed, V2ConnectOptions) and parsed.base_url == sandbox.v2_base_url
    assert main(["--api", "v2", "--secret-id", LEGACY, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert '"api": "v2"' in printed and sandbox.v2_access_token not in printed and sandbox.v2_api_key not in printed
