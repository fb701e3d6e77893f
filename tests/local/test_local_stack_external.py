"""`make dev` against an EXTERNAL Constant Contact server (local/README.md), everything a separate process over HTTP.

The sandbox runs as `python -m local.cc_sandbox` (as an acceptance run's own simulator would), the stack as
`python -m local.stack` configured only through its environment: PORT, CC_API_BASE_URL, CC_TOKEN_URL,
CC_CLIENT_ID, CC_CLIENT_SECRET, CC_ACCESS_TOKEN, CC_REFRESH_TOKEN, ROUTES_FILE, LOCAL_WEBHOOK_SECRETS.
What the external account holds is read through its V3 API, with a grant of its own (the account owner's).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.stack import CC_ENV
from local.stack_config import LOCAL_DEFAULT_WEBHOOK_SECRET, WEBHOOK_SECRETS_ENV
from tests.conftest import load_event
from tests.sandbox_fixtures import sandbox_cli

ROOT = Path(__file__).resolve().parents[2]
START_LIMIT_SECONDS = 60.0
DRAIN_LIMIT_SECONDS = 90.0
OWNER_REDIRECT = "http://127.0.0.1/owner-callback"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_environment(**extra: str) -> dict[str, str]:
    """This environment without anything that would steer the child (CC_*, ROUTES_FILE, ...), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in (*CC_ENV, "ROUTES_FILE", WEBHOOK_SECRETS_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])
    return {**env, **extra}


@dataclass
class ExternalAccount:
    """What the sandbox process printed: URLs, the app's client credentials and a first token pair."""

    info: dict[str, Any]

    def stack_environment(self) -> dict[str, str]:
        return {
            "CC_API_BASE_URL": self.info["base_url"],
            "CC_TOKEN_URL": self.info["token_url"],
            "CC_CLIENT_ID": self.info["client_id"],
            "CC_CLIENT_SECRET": self.info["client_secret"],
            "CC_ACCESS_TOKEN": self.info["access_token"],
            "CC_REFRESH_TOKEN": self.info["refresh_token"],
        }

    def owner_token(self) -> str:
        """A separate grant (authorization code flow), so inspecting never touches the stack's tokens."""
        state = secrets.token_urlsafe(8)
        answer = requests.get(
            self.info["authorize_url"],
            params={
                "client_id": self.info["client_id"],
                "redirect_uri": OWNER_REDIRECT,
                "response_type": "code",
                "scope": "contact_data offline_access",
                "state": state,
            },
            allow_redirects=False,
            timeout=10,
        )
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        for _ in range(20):  # the token endpoint allows 1 request/s per client
            tokens = requests.post(
                self.info["token_url"],
                auth=(self.info["client_id"], self.info["client_secret"]),
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": OWNER_REDIRECT},
                timeout=10,
            )
            if tokens.status_code != 429:
                break
            time.sleep(1.1)
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["access_token"])

    def v3(self, path: str, token: str, **params: str) -> requests.Response:
        for _ in range(20):  # shares the app's 4 requests/s with the stack
            response = requests.get(
                f"{self.info['base_url']}{path}",
                params=params,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=10,
            )
            if response.status_code != 429:
                return response
            time.sleep(1.1)
        return response

    def contact(self, email: str) -> dict[str, Any] | None:
        token = self.owner_token()
        answer = self.v3("/contacts", token, email=email, status="all", include="list_memberships")
        assert answer.status_code == 200, answer.text
        contacts = answer.json()["contacts"]
        return contacts[0] if contacts else None

    def list_names(self) -> dict[str, str]:
        answer = self.v3("/contact_lists", self.owner_token())
        assert answer.status_code == 200, answer.text
        return {item["list_id"]: item["name"] for item in answer.json()["lists"]}


@contextmanager
def external_account(*args: str) -> Iterator[ExternalAccount]:
    """`python -m local.cc_sandbox ARGS` on a free port until the block ends."""
    with sandbox_cli(*args) as info:
        yield ExternalAccount(info)


@dataclass
class RunningStack:
    url: str
    process: subprocess.Popen[bytes]
    output_file: Path

    @property
    def output(self) -> str:
        return self.output_file.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/_local/status", timeout=30)
        assert answer.status_code == 200
        return dict(answer.json())

    def wait_for(self, ids: list[str]) -> dict[str, Any]:
        """The status once the queue is drained and every id has a final result (deferred ones are retried)."""
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        while time.monotonic() < deadline:
            status = self.status()
            results = status["results"]
            if status["drained"] and all(results.get(i, {}).get("outcome") not in (None, "deferred") for i in ids):
                return status
            time.sleep(0.3)
        pytest.fail(f"the local stack did not finish {ids}: {self.status()}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=30)


@contextmanager
def local_stack(tmp_path: Path, **env: str) -> Iterator[RunningStack]:
    """`python -m local.stack` on a free port, up and answering /_local/status; stopped after the block."""
    port = free_port()
    output_file = tmp_path / f"stack-{port}.log"
    with output_file.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"],
            cwd=ROOT,
            env=child_environment(PORT=str(port), **env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    stack = RunningStack(f"http://127.0.0.1:{port}", process, output_file)
    try:
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while "Ctrl-C to stop." not in stack.output:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the local stack did not start:\n{stack.output}")
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def post_event(stack: RunningStack, name: str) -> requests.Response:
    """An events/ sample's body and headers, POSTed to its path on the stack."""
    event = load_event(name)
    headers = {k: v for k, v in event["headers"].items() if k not in ("host", "content-length")}
    return requests.post(f"{stack.url}{event['rawPath']}", data=event["body"].encode(), headers=headers, timeout=30)


def post_signup(stack: RunningStack, route: str, token: str, **fields: str) -> requests.Response:
    return requests.post(f"{stack.url}/hooks/{route}", json=fields, headers={"X-Signup-Relay-Token": token}, timeout=30)


def test_a_signup_reaches_the_external_account_with_its_lists_created(tmp_path: Path):
    # Given an external Constant Contact account with no lists, and the stack pointed at it by environment only
    with external_account() as account, local_stack(tmp_path, **account.stack_environment()) as stack:
        lists_before = account.list_names()

        # When the Zapier sample is posted to the generic route and the queue drains
        answer = post_event(stack, "generic_signup.json")
        status = stack.wait_for([answer.json()["id"]])
        exit_code = stack.stop(signal.SIGTERM)

        # Then the sender got 200, the status reports the created contact, and the external account has it,
        # in the route's list, which the route (create_missing_lists: true) created there
        result = status["results"][answer.json()["id"]]
        contact = account.contact("ada.lovelace@example.com")
        names = account.list_names()
        assert answer.status_code == 200
        assert status["constant_contact"] == account.info["base_url"]
        assert result["outcome"] == "created"
        assert contact is not None and result["contact_id"] == contact["contact_id"]
        assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
        assert lists_before == {}
        assert [names[list_id] for list_id in contact["list_memberships"]] == ["Newsletter"]
        assert status["queue"] == {"visible": 0, "in_flight": 0, "busy": False}
        assert status["dlq"]["records"] == []
        # and the stack stopped cleanly on SIGTERM after printing its URL and routes
        assert exit_code == 0
        assert f"signup-relay local stack: {stack.url}" in stack.output
        assert f"POST {stack.url}/hooks/generic  [generic; secret from local/demo_secrets.json]" in stack.output
        assert "stopping..." in stack.output


@pytest.mark.parametrize("access_token", ["expired", "absent"])
def test_the_stack_refreshes_with_the_refresh_token_when_the_access_token_is_expired_or_absent(
    tmp_path: Path, access_token: str
):
    # Given an external account whose access tokens live 3 s (rotating refresh tokens), and its first access
    # token already refused by the time the stack gets it, or not given to the stack at all
    with external_account("--token-ttl", "3") as account:
        environment = account.stack_environment()
        if access_token == "absent":
            del environment["CC_ACCESS_TOKEN"]
        deadline = time.monotonic() + 30
        while access_token == "expired" and account.v3("/contact_lists", account.info["access_token"]).ok:
            assert time.monotonic() < deadline, "the sandbox's access token never expired"
            time.sleep(0.5)
        with local_stack(tmp_path, **environment) as stack:
            # When a sign-up goes through the stack
            answer = post_event(stack, "generic_signup.json")
            status = stack.wait_for([answer.json()["id"]])

            # Then the stack refreshed at CC_TOKEN_URL with the client credentials and CC_REFRESH_TOKEN (a
            # rotating refresh token works once: the printed one is spent) and carried on to create the contact
            for _ in range(20):  # the token endpoint allows 1 request/s per client
                spent = requests.post(
                    account.info["token_url"],
                    auth=(account.info["client_id"], account.info["client_secret"]),
                    data={"grant_type": "refresh_token", "refresh_token": account.info["refresh_token"]},
                    timeout=10,
                )
                if spent.status_code != 429:
                    break
                time.sleep(1.1)
            contact = account.contact("ada.lovelace@example.com")
            assert status["results"][answer.json()["id"]]["outcome"] == "created"
            assert contact is not None
            assert status["results"][answer.json()["id"]]["contact_id"] == contact["contact_id"]
            assert (spent.status_code, spent.json()["error"]) == (400, "invalid_grant")
            assert status["dlq"]["records"] == []


ACME_ROUTES = """
version: 1
routes:
  acme-signup:                 # its secret comes from LOCAL_WEBHOOK_SECRETS
    source: generic
    consent: implicit
    lists: [Customers]         # not in the account, and not to be created: a clear rejection
  acme-members:                # no secret given anywhere: the local default
    source: generic
    consent: implicit
    lists: [Members]           # already in the account
  acme-waitlist:
    source: generic
    secret: {key: waitlist-token}
    consent: implicit
    lists: [Waitlist]
    create_missing_lists: true
"""


def test_a_custom_routes_file_with_its_own_secrets_and_the_local_default(tmp_path: Path):
    # Given the acceptance run's own routes file, one route's secret in LOCAL_WEBHOOK_SECRETS (inline JSON), one
    # by its secret key in a JSON file, and one with none; an external account that has only the list Members
    routes_file = tmp_path / "acme-routes.yaml"
    routes_file.write_text(ACME_ROUTES)
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"acme-signup": "acme-signup-s3cret-value", "waitlist-token": "wl-s3cret"}))
    with (
        external_account("--seed-list", "Members") as account,
        local_stack(
            tmp_path,
            ROUTES_FILE=str(routes_file),
            LOCAL_WEBHOOK_SECRETS=str(secrets_file),
            **account.stack_environment(),
        ) as stack,
    ):
        # When sign-ups arrive with the right secrets, and one with the local default where a secret was given
        refused = post_signup(stack, "acme-signup", LOCAL_DEFAULT_WEBHOOK_SECRET, email="x@example.com")
        rejected = post_signup(stack, "acme-signup", "acme-signup-s3cret-value", email="grace@example.com")
        member = post_signup(stack, "acme-members", LOCAL_DEFAULT_WEBHOOK_SECRET, email="alan@example.com")
        waiting = post_signup(stack, "acme-waitlist", "wl-s3cret", email="edsger@example.com")
        ids = [answer.json().get("id", "") for answer in (rejected, member, waiting)]
        status = stack.wait_for(ids)
        exit_code = stack.stop(signal.SIGINT)

        # Then each route took its own secret, the missing list was a DLQ reason (not a new list), the existing
        # and the creatable lists were used, and no real secret value was ever printed
        names = account.list_names()
        assert [a.status_code for a in (refused, rejected, member, waiting)] == [401, 200, 200, 200]
        assert [status["results"][i]["outcome"] for i in ids] == ["rejected", "created", "created"]
        assert account.contact("grace@example.com") is None
        assert sorted(names.values()) == ["Members", "Waitlist"]
        for email, list_name in (("alan@example.com", "Members"), ("edsger@example.com", "Waitlist")):
            contact = account.contact(email)
            assert contact is not None and [names[i] for i in contact["list_memberships"]] == [list_name]
        [record] = status["dlq"]["records"]
        assert record["route"] == "acme-signup" and "Customers" in json.dumps(record)
        assert f"routes file: {routes_file.resolve()}" in stack.output
        assert f"/hooks/acme-signup  [generic; secret from {'LOCAL_WEBHOOK_SECRETS'}]" in stack.output
        assert f"/hooks/acme-members  [generic; local default secret '{LOCAL_DEFAULT_WEBHOOK_SECRET}']" in stack.output
        assert "acme-signup-s3cret-value" not in stack.output and "wl-s3cret" not in stack.output
        assert exit_code == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROUTES_FILE": "{routes}"}, "route 'broken', key 'consent'"),
        ({"ROUTES_FILE": "{missing}"}, "does not exist"),
        ({"LOCAL_WEBHOOK_SECRETS": "{not json"}, "LOCAL_WEBHOOK_SECRETS (inline JSON) is not valid JSON"),
        ({"LOCAL_WEBHOOK_SECRETS": '{"generic": 7}'}, "the secret of 'generic' must be a non-empty string"),
        ({"CC_API_BASE_URL": "http://127.0.0.1:9/v3"}, "give CC_ACCESS_TOKEN and/or CC_REFRESH_TOKEN"),
    ],
)
def test_a_bad_configuration_stops_the_stack_with_a_clear_error(tmp_path: Path, env: dict[str, str], message: str):
    # Given a routes file missing a required key, or a bad secrets value, or an external server without tokens
    routes = tmp_path / "routes.yaml"
    routes.write_text("version: 1\nroutes:\n  broken:\n    source: generic\n")
    places = {"{routes}": str(routes), "{missing}": str(tmp_path / "nope.yaml")}
    values = {k: places.get(v, v) for k, v in env.items()}

    # When the stack starts
    done = subprocess.run(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=child_environment(PORT=str(free_port()), **values),
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then it exits 2 before serving anything, saying what to fix
    assert done.returncode == 2, done.stdout + done.stderr
    assert "configuration error" in done.stderr and message in done.stderr
    assert "Ctrl-C to stop." not in done.stdout


def test_a_v2_route_reaches_the_external_account_through_its_v2_api(tmp_path: Path):
    # Given an external account with the Newsletter list, and the stack given its V2 API, key and token as well
    with external_account() as account:
        environment = {
            **account.stack_environment(),
            "CC_V2_API_BASE_URL": account.info["v2_base_url"],
            "CC_V2_API_KEY": account.info["v2_api_key"],
            "CC_V2_ACCESS_TOKEN": account.info["v2_access_token"],
        }
        created = requests.post(
            f"{account.info['base_url']}/contact_lists",
            json={"name": "Newsletter"},
            headers={"Authorization": f"Bearer {account.owner_token()}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        v2 = requests.Session()
        v2.params = {"api_key": account.info["v2_api_key"]}
        v2.headers["Authorization"] = f"Bearer {account.info['v2_access_token']}"
        with local_stack(tmp_path, **environment) as stack:
            # When the V2 route's sample is posted and the queue drains
            answer = post_event(stack, "generic_v2_signup.json")
            status = stack.wait_for([answer.json()["id"]])
        # Then it was created, and V2 reads it back with its V2 id and its custom field
        result = status["results"][answer.json()["id"]]
        assert result["outcome"] == "created", status
        found = v2.get(f"{account.info['v2_base_url']}/contacts", params={"email": "nettie.stevens@example.com"})
        [contact] = found.json()["results"]
        assert contact["id"] == result["contact_id"]
        assert contact["custom_fields"] == [{"name": "CustomField2", "value": "Bryn Mawr"}]
