"""`connect` against the sandbox's real authorization server: device flow and authorization code + PKCE.

The person in front of the browser is played by the test: for the device flow, a clock whose `sleep`
(the poll interval) visits the sandbox's verification page or lets time run out; for PKCE, an `open_url`
that follows the authorize redirect to connect's listener on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from local.cc_sandbox import Sandbox
from signup_relay.ops.connect import connect
from signup_relay.ops.oauth_flows import ConnectError, ConnectOptions
from signup_relay.tokens.secret_store import StagedSecretStore
from signup_relay.tokens.single_writer import RefreshRequest, SingleWriter

SECRET_ID = "signup-relay/constant-contact"


class PersonAtTheBrowser:
    """connect's clock: sandbox time, where each poll interval is spent doing `on_wait` then advancing time."""

    def __init__(self, sandbox: Sandbox, out: io.StringIO, on_wait: Callable[[PersonAtTheBrowser, int], float]) -> None:
        self.sandbox = sandbox
        self.out = out
        self.on_wait = on_wait
        self.waits: list[float] = []

    def time(self) -> float:
        return self.sandbox.clock.time()

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        advance = self.on_wait(self, len(self.waits))
        self.sandbox.clock.advance(seconds if advance < 0 else advance)

    def visit_verification_page(self) -> None:
        """Open verification_uri_complete as printed, which applies the sandbox's oauth_decision."""
        url = re.search(r"\(or open (\S+) directly\)", self.out.getvalue())
        assert url, self.out.getvalue()
        requests.get(url.group(1), timeout=5).raise_for_status()


class SandboxTime:
    """The single writer's clock in sandbox time: sleeping advances the frozen sandbox clock."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def time(self) -> float:
        return self.sandbox.clock.time()

    def sleep(self, seconds: float) -> None:
        self.sandbox.clock.advance(max(seconds, 0))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rate_limit_per_second=0, device_poll_interval=5) as running:
        running.clock.freeze()  # only the person's clock moves time in the device tests
        yield running


@pytest.fixture
def secrets_client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _options(sandbox: Sandbox, **overrides: Any) -> ConnectOptions:
    values: dict[str, Any] = {
        "secret_id": SECRET_ID,
        "client_id": sandbox.client_id,
        "authorize_url": sandbox.authorize_url,
        "token_url": sandbox.token_url,
        "device_url": sandbox.device_authorize_url,
        "redirect_uri": "http://127.0.0.1:0/callback",
        "timeout_seconds": 10,
    }
    return ConnectOptions(**(values | overrides))


def _stored(secrets_client: Any) -> dict[str, Any]:
    return json.loads(secrets_client.get_secret_value(SecretId=SECRET_ID)["SecretString"])


def _token_works(sandbox: Sandbox, access_token: str) -> bool:
    response = requests.get(
        f"{sandbox.base_url}/contact_lists", headers={"Authorization": f"Bearer {access_token}"}, timeout=5
    )
    return response.status_code == 200


def _secret_exists(secrets_client: Any) -> bool:
    return bool(secrets_client.list_secrets()["SecretList"])


def _connect_fails(
    options: ConnectOptions, secrets_client: Any, *, out: io.StringIO | None = None, **person: Any
) -> ConnectError:
    """Run connect to the ConnectError it must end in (the person's `clock` or `open_url`), for its message."""
    with pytest.raises(ConnectError) as raised:
        connect(options, http=requests.Session(), secrets_client=secrets_client, out=out or io.StringIO(), **person)
    return raised.value


def _visit_on_first_wait(person: PersonAtTheBrowser, wait: int) -> float:
    """The person opens the verification page during the first poll interval (approving or denying there)."""
    if wait == 1:
        person.visit_verification_page()
    return -1


# --- device flow ------------------------------------------------------------------------------------


def test_device_flow_approved_stores_a_secret_that_works_and_refreshes(sandbox: Sandbox, secrets_client: Any) -> None:
    # Given a person who approves the code on the verification page while connect polls
    out = io.StringIO()
    person = PersonAtTheBrowser(sandbox, out, _visit_on_first_wait)
    # When connect runs the device flow (a public client: no secret)
    connect(_options(sandbox), http=requests.Session(), secrets_client=secrets_client, clock=person, out=out)
    # Then it printed the URL and code, stored the secret (docs/token-refresh.md), and the access token works
    assert "enter the code:" in out.getvalue() and "/activate" in out.getvalue()
    secret = _stored(secrets_client)
    assert set(secret) >= {
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
        "expires_at",
        "refresh_token_type",
    }
    assert secret["client_id"] == sandbox.client_id and secret["refresh_token_type"] == "rotating"
    assert secret["expires_at"] == int(person.time() - 5 + 86400) and _token_works(sandbox, secret["access_token"])
    # And the single writer can refresh it (the refresh token was granted: offline_access)
    writer = SingleWriter(
        store=StagedSecretStore(secrets_client),
        http=requests.Session(),
        token_url=sandbox.token_url,
        clock=SandboxTime(sandbox),
    )
    outcome = writer.refresh(RefreshRequest(SECRET_ID, stale_access_token_sha256=None))
    assert outcome.action == "skipped"  # fresh: nothing to do yet
    sandbox.clock.advance(86400)
    assert writer.refresh(RefreshRequest(SECRET_ID)).action == "refreshed"
    assert sandbox.invalid_grant_count == 0


def test_device_flow_backs_off_when_told_to_slow_down(sandbox: Sandbox, secrets_client: Any) -> None:
    # Given a poller whose second wait is cut short (so it polls too fast), and a person who then approves
    out = io.StringIO()

    def impatient(person: PersonAtTheBrowser, wait: int) -> float:
        if wait == 2:
            return 1.0  # less than the 5 s interval: the server answers slow_down
        if wait == 3:
            person.visit_verification_page()
        return -1

    person = PersonAtTheBrowser(sandbox, out, impatient)
    # When connect runs the device flow
    connect(_options(sandbox), http=requests.Session(), secrets_client=secrets_client, clock=person, out=out)
    # Then after slow_down it waited 5 s longer between polls, and still connected
    assert person.waits[:3] == [5, 5, 10]
    assert _token_works(sandbox, _stored(secrets_client)["access_token"])


def test_device_flow_denied_says_so_and_stores_nothing(sandbox: Sandbox, secrets_client: Any) -> None:
    # Given a person who clicks Deny on the verification page
    sandbox.oauth_decision = "deny"
    out = io.StringIO()
    # When connect polls
    error = _connect_fails(
        _options(sandbox), secrets_client, out=out, clock=PersonAtTheBrowser(sandbox, out, _visit_on_first_wait)
    )
    # Then the message says access was denied and how to retry; no secret was written
    assert "denied" in error.message and "Run connect again" in error.message
    assert not _secret_exists(secrets_client)


def test_device_flow_expired_code_says_so_and_stores_nothing(sandbox: Sandbox, secrets_client: Any) -> None:
    # Given a person who never approves within the code's 10 minutes
    out = io.StringIO()

    def walk_away(person: PersonAtTheBrowser, wait: int) -> float:
        return 601.0

    # When connect polls
    error = _connect_fails(
        _options(sandbox), secrets_client, out=out, clock=PersonAtTheBrowser(sandbox, out, walk_away)
    )
    # Then the message says the code expired; no secret was written
    assert "expired" in error.message and not _secret_exists(secrets_client)


# --- authorization code + PKCE --------------------------------------------------------------------------


def _follow(url: str) -> None:
    """The browser: authorize page (approved at once by the sandbox) -> redirect to connect's listener."""
    requests.get(url, timeout=5)


def test_pkce_flow_approved_updates_an_existing_secret(cc_sandbox_unthrottled: Sandbox, secrets_client: Any) -> None:
    # Given an existing secret (a previous connection) and a confidential app with a client secret
    secrets_client.create_secret(Name=SECRET_ID, SecretString=json.dumps({"access_token": "old"}))
    options = _options(cc_sandbox_unthrottled, flow="pkce", client_secret=cc_sandbox_unthrottled.client_secret)
    out = io.StringIO()
    # When connect runs the PKCE flow and the person approves in the browser
    result = connect(options, http=requests.Session(), secrets_client=secrets_client, open_url=_follow, out=out)
    # Then the secret was updated in place with a working token and its client secret
    secret = _stored(secrets_client)
    assert secret["access_token"] != "old" and _token_works(cc_sandbox_unthrottled, secret["access_token"])
    assert secret["client_secret"] == cc_sandbox_unthrottled.client_secret and result.stored_version_id
    assert "code_challenge_method=S256" in out.getvalue() and "offline_access" in out.getvalue()


def test_pkce_flow_denied_says_so_and_stores_nothing(cc_sandbox_unthrottled: Sandbox, secrets_client: Any) -> None:
    # Given a person who clicks Deny on the consent page
    cc_sandbox_unthrottled.oauth_decision = "deny"
    # When connect waits for the redirect
    error = _connect_fails(_options(cc_sandbox_unthrottled, flow="pkce"), secrets_client, open_url=_follow)
    # Then the message says access was denied; no secret was written
    assert "denied" in error.message and not _secret_exists(secrets_client)


def test_pkce_flow_expired_code_says_so_and_stores_nothing(
    cc_sandbox_unthrottled: Sandbox, secrets_client: Any
) -> None:
    # Given a person whose redirect arrives after the code's 5 minutes
    def slow_browser(url: str) -> None:
        consent = requests.get(url, allow_redirects=False, timeout=5)
        cc_sandbox_unthrottled.clock.advance(301)
        requests.get(consent.headers["Location"], timeout=5)

    # When connect exchanges the code
    error = _connect_fails(_options(cc_sandbox_unthrottled, flow="pkce"), secrets_client, open_url=slow_browser)
    # Then the message explains the 5-minute lifetime; no secret was written
    assert "expired" in error.message and "5 minutes" in error.message
    assert not _secret_exists(secrets_client)


def test_pkce_flow_rejects_a_redirect_with_the_wrong_state(
    cc_sandbox_unthrottled: Sandbox, secrets_client: Any
) -> None:
    # Given a redirect whose state is not the one connect sent (a forged or stale callback)
    def forged(url: str) -> None:
        consent = requests.get(url, allow_redirects=False, timeout=5)
        requests.get(re.sub(r"state=[^&]+", "state=forged", consent.headers["Location"]), timeout=5)

    # When connect receives it
    error = _connect_fails(_options(cc_sandbox_unthrottled, flow="pkce"), secrets_client, open_url=forged)
    # Then the code is not exchanged and nothing is stored
    assert "state" in error.message and not _secret_exists(secrets_client)
    assert cc_sandbox_unthrottled.token_requests == []


def test_pkce_dry_run_prints_the_secret_with_tokens_masked(
    cc_sandbox_unthrottled: Sandbox, secrets_client: Any
) -> None:
    # Given a dry run
    out = io.StringIO()
    options = _options(
        cc_sandbox_unthrottled, flow="pkce", client_secret=cc_sandbox_unthrottled.client_secret, dry_run=True
    )
    # When connect completes the flow
    result = connect(options, http=requests.Session(), secrets_client=secrets_client, open_url=_follow, out=out)
    # Then it printed every key with the tokens and client secret masked, and stored nothing
    printed = out.getvalue()
    assert "Dry run" in printed and '"refresh_token_type": "rotating"' in printed and "****" in printed
    for hidden in (result.secret["access_token"], result.secret["refresh_token"], cc_sandbox_unthrottled.client_secret):
        assert hidden not in printed
    assert not _secret_exists(secrets_client)


# --- the command line ---------------------------------------------------------------------------------------


def test_python_m_signup_relay_connect_runs_the_device_flow_dry_run(cc_sandbox_unthrottled: Sandbox) -> None:
    # Given a sandbox that approves device requests at once and polls every second
    cc_sandbox_unthrottled.auto_approve_devices = True
    cc_sandbox_unthrottled.oauth.device_poll_interval = 1
    args = [
        "--client-id",
        cc_sandbox_unthrottled.client_id,
        "--device-url",
        cc_sandbox_unthrottled.device_authorize_url,
        "--dry-run",
    ]
    env = {**os.environ, "CC_TOKEN_URL": cc_sandbox_unthrottled.token_url, "PYTHONPATH": os.pathsep.join(sys.path)}
    # When a person runs the module from a shell
    done = subprocess.run(
        [sys.executable, "-m", "signup_relay.ops.connect", *args], env=env, capture_output=True, text=True, timeout=60
    )
    # Then it succeeded, printed the masked secret, and no token leaked to the terminal
    assert done.returncode == 0, done.stderr
    assert "Dry run" in done.stdout and '"access_token": "****' in done.stdout
    issued = [r for r in cc_sandbox_unthrottled.token_requests if r["status"] == 200]
    assert len(issued) == 1 and "eyJ" not in done.stdout
