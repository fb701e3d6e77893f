"""The hourly token refresh covers every Constant Contact account: CC_SECRET_ID and each secret named
`<CC_SECRET_ID>/<name>` (a route's `account`), found by name prefix, against the sandbox and moto Secrets Manager.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.token_refresh import app as token_refresh_app
from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.errors import TransientError
from signup_relay.tokens.secret_store import StagedSecretStore
from tests.integration.relay_fixtures import token_refresh_context
from tests.oauth_secret import seed_oauth_secret

BASE = "signup-relay/constant-contact"
ACCOUNTS = [f"{BASE}/acme", f"{BASE}/beta"]
NOT_ACCOUNTS = [f"{BASE}-old", f"{BASE}x/acme", "other/constant-contact"]  # outside the IAM family
SCHEDULED = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def secrets(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto Secrets Manager, CC_SECRET_ID and two more accounts due for refresh, plus secrets outside the family."""
    with mock_aws():
        for secret_id in [BASE, *ACCOUNTS, *NOT_ACCOUNTS]:
            seed_oauth_secret(cc_sandbox_unthrottled, secret_id, expires_in=600)  # within the 2 h margin: due
        monkeypatch.setenv("CC_TOKEN_URL", cc_sandbox_unthrottled.token_url)
        monkeypatch.setenv("CC_SECRET_ID", BASE)
        reset_relay_caches()
        yield boto3.client("secretsmanager")
        reset_relay_caches()


def _secret(client: Any, secret_id: str) -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])


def _token_works(sandbox: Sandbox, access_token: str) -> bool:
    answer = requests.get(
        f"{sandbox.base_url}/contact_lists", headers={"Authorization": f"Bearer {access_token}"}, timeout=5
    )
    return answer.status_code == 200


def test_the_scheduled_run_refreshes_cc_secret_id_and_every_account_under_it(
    cc_sandbox_unthrottled: Sandbox, secrets: Any
) -> None:
    # Given CC_SECRET_ID, two accounts named <CC_SECRET_ID>/<name>, and look-alike secrets outside that family,
    # all due for refresh
    before = {secret_id: _secret(secrets, secret_id) for secret_id in [BASE, *ACCOUNTS, *NOT_ACCOUNTS]}

    # When EventBridge's hourly schedule invokes the function (no secret_ids in the event)
    answer = token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())

    # Then every account in the family was refreshed, each with its own new working pair
    assert {r["secret_id"]: r["action"] for r in answer["results"]} == {
        BASE: "refreshed",
        **dict.fromkeys(ACCOUNTS, "refreshed"),
    }
    for secret_id in [BASE, *ACCOUNTS]:
        after = _secret(secrets, secret_id)
        assert after["refresh_token"] != before[secret_id]["refresh_token"], secret_id
        assert after["previous_version_id"] and _token_works(cc_sandbox_unthrottled, after["access_token"]), secret_id
    # ... and the secrets outside it (which the deployed IAM could not write anyway) were left alone
    assert all(_secret(secrets, secret_id) == before[secret_id] for secret_id in NOT_ACCOUNTS)


def test_an_account_connected_later_is_found_by_the_next_run_and_fresh_ones_are_skipped(
    cc_sandbox_unthrottled: Sandbox, secrets: Any
) -> None:
    # Given a run that refreshed every account
    token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())
    # ... and an account connected since (`make connect ARGS="--secret-id <CC_SECRET_ID>/late"`)
    seed_oauth_secret(cc_sandbox_unthrottled, f"{BASE}/late", expires_in=600)

    # When the next hourly run comes
    answer = token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())

    # Then it refreshed the new account and skipped the ones refreshed an hour ago
    actions = {r["secret_id"]: (r["action"], r["reason"]) for r in answer["results"]}
    assert actions[f"{BASE}/late"] == ("refreshed", "near_expiry")
    assert all(actions[secret_id] == ("skipped", "fresh") for secret_id in [BASE, *ACCOUNTS])


def test_the_listing_pages_through_every_account(secrets: Any, cc_sandbox_unthrottled: Sandbox) -> None:
    # Given more accounts than one ListSecrets page holds (pages of 1 here)
    class OnePerPage:
        def __init__(self, client: Any) -> None:
            self.client = client
            self.pages = 0

        def list_secrets(self, **kwargs: Any) -> Any:
            self.pages += 1
            return self.client.list_secrets(**{**kwargs, "MaxResults": 1})

    client = OnePerPage(secrets)
    # When the accounts are listed / Then all of them come back, sorted, without CC_SECRET_ID itself
    assert StagedSecretStore(client).list_accounts(BASE) == ACCOUNTS
    assert client.pages >= len(ACCOUNTS)


def test_a_failed_listing_still_refreshes_cc_secret_id_then_fails_loudly(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given ListSecrets refused (e.g. the permission was removed from the role)
    def denied(self: StagedSecretStore, base: str) -> list[str]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListSecrets")

    monkeypatch.setattr(StagedSecretStore, "list_accounts", denied)
    before = _secret(secrets, BASE)

    # When the scheduled run comes / Then the invocation fails (the TokenRefreshErrors alarm counts it) ...
    with pytest.raises(TransientError, match="AccessDeniedException"):
        token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())
    # ... after CC_SECRET_ID was refreshed all the same
    assert _secret(secrets, BASE)["refresh_token"] != before["refresh_token"]


def test_an_event_naming_secret_ids_refreshes_exactly_those(secrets: Any) -> None:
    # Given a scheduled event that names its accounts (e.g. a manual run for one account)
    before = {secret_id: _secret(secrets, secret_id) for secret_id in [BASE, *ACCOUNTS]}

    # When it runs
    answer = token_refresh_app.lambda_handler({**SCHEDULED, "secret_ids": [ACCOUNTS[1]]}, token_refresh_context())

    # Then only that account was refreshed; nothing was listed or touched besides
    assert [r["secret_id"] for r in answer["results"]] == [ACCOUNTS[1]]
    assert _secret(secrets, ACCOUNTS[1])["refresh_token"] != before[ACCOUNTS[1]]["refresh_token"]
    assert all(_secret(secrets, secret_id) == before[secret_id] for secret_id in [BASE, ACCOUNTS[0]])


def test_with_an_arn_cc_secret_id_only_that_secret_is_refreshed_and_nothing_is_listed(
    secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CC_SECRET_ID given as the secret's ARN (the stack's IAM then covers that secret only)
    arn = secrets.describe_secret(SecretId=BASE)["ARN"]
    monkeypatch.setenv("CC_SECRET_ID", arn)
    reset_relay_caches()

    def unexpected(self: StagedSecretStore, base: str) -> list[str]:
        raise AssertionError("an ARN has no family to list")

    monkeypatch.setattr(StagedSecretStore, "list_accounts", unexpected)

    # When the scheduled run comes
    answer = token_refresh_app.lambda_handler(SCHEDULED, token_refresh_context())

    # Then it refreshed that one secret
    assert [(r["secret_id"], r["action"]) for r in answer["results"]] == [(arn, "refreshed")]
