"""V2 accounts in the token machinery (moto Secrets Manager): the hourly refresh and the on-demand refresh leave
them alone, and the reader never asks for a refresh after a 401: it re-reads, then gives up with the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.token_refresh import app as token_refresh_app
from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.errors import ReauthorizationRequiredError
from signup_relay.tokens.reader import TokenProvider
from signup_relay.tokens.secret_store import StagedSecretStore
from tests.integration.relay_fixtures import token_refresh_context
from tests.oauth_secret import seed_oauth_secret

BASE = "signup-relay/constant-contact"
LEGACY = f"{BASE}/legacy"
V2_SECRET = {"api": "v2", "api_key": "v2-key-0123456789", "access_token": "v2-token-0123456789", "connected_at": 1.0}
SCHEDULED = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def secrets(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """CC_SECRET_ID (V3, due for refresh) and a V2 account under it."""
    with mock_aws():
        seed_oauth_secret(cc_sandbox_unthrottled, BASE, expires_in=600)
        StagedSecretStore(boto3.client("secretsmanager")).write_current(LEGACY, V2_SECRET)
        monkeypatch.setenv("CC_TOKEN_URL", cc_sandbox_unthrottled.token_url)
        monkeypatch.setenv("CC_SECRET_ID", BASE)
        reset_relay_caches()
        yield boto3.client("secretsmanager")
        reset_relay_caches()


def _versions(client: Any, secret_id: str) -> list[str]:
    return [v["VersionId"] for v in client.list_secret_version_ids(SecretId=secret_id)["Versions"]]


def test_the_hourly_run_refreshes_v3_accounts_and_skips_v2_ones(secrets: Any) -> None:
    # Given a V3 account due for refresh and a V2 account beside it
    v2_versions = _versions(secrets, LEGACY)
    # When the scheduled run comes
    answer = token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())
    # Then the V3 account was refreshed and the V2 one skipped, its secret untouched (no new version, no error)
    actions = {r["secret_id"]: (r["action"], r["reason"]) for r in answer["results"]}
    assert actions == {BASE: ("refreshed", "near_expiry"), LEGACY: ("skipped", "v2_account")}
    assert _versions(secrets, LEGACY) == v2_versions
    assert json.loads(secrets.get_secret_value(SecretId=LEGACY)["SecretString"]) == V2_SECRET


def test_an_on_demand_refresh_of_a_v2_account_changes_nothing(secrets: Any) -> None:
    event = {"secret_id": LEGACY, "stale_access_token_sha256": "0" * 64}
    answer = token_refresh_app.lambda_handler(event, token_refresh_context())
    assert (answer["action"], answer["reason"]) == ("skipped", "v2_account")
    assert json.loads(secrets.get_secret_value(SecretId=LEGACY)["SecretString"]) == V2_SECRET


def test_the_reader_gives_the_api_key_and_never_asks_a_refresh_for_v2(secrets: Any) -> None:
    # Given a reader of the V2 account whose refresher must never be called
    asked: list[str] = []
    tokens = TokenProvider(LEGACY, refresher=lambda secret_id, stale: asked.append(secret_id))
    assert (tokens.api(), tokens.api_key(), tokens.access_token()) == ("v2", "v2-key-0123456789", "v2-token-0123456789")
    # When Constant Contact refused the token / Then the reader re-reads, finds the same token, and gives up
    with pytest.raises(ReauthorizationRequiredError, match=f"--api v2 --secret-id {LEGACY}"):
        tokens.after_unauthorized("v2-token-0123456789")
    assert asked == []


def test_a_v2_token_replaced_by_connect_is_picked_up_after_a_401(secrets: Any) -> None:
    # Given the operator stored a new token (`connect --api v2`) after the container cached the old one
    tokens = TokenProvider(LEGACY, refresher=lambda secret_id, stale: None)
    assert tokens.access_token() == "v2-token-0123456789"
    StagedSecretStore(secrets).write_current(LEGACY, {**V2_SECRET, "access_token": "v2-token-new-456789"})
    # When the old one is refused / Then the re-read gives the new one
    assert tokens.after_unauthorized("v2-token-0123456789") == "v2-token-new-456789"


def test_a_v3_reader_reports_v3(secrets: Any) -> None:
    assert TokenProvider(BASE, refresher=lambda secret_id, stale: None).api() == "v3"
