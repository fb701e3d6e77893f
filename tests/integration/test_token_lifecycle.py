"""The token lifecycle against the sandbox's real authorization server and moto Secrets Manager.

- soak: rotating refresh tokens living 2 s, 4 upsert workers and the scheduler for 60 s of sign-ups;
- crashes between the token endpoint's answer and the store, and what the next run does about them;
- the token_refresh function's handler (scheduled, on demand, invalid_grant metric) and the upsert side's
  LambdaRefresher invoking it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from functions.token_refresh import app as token_refresh_app
from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.errors import ReauthorizationRequiredError, TransientError
from signup_relay.models import ConsentEvidence, Outcome, Signup
from signup_relay.routes import Consent
from signup_relay.tokens import refresh_function, refreshers
from signup_relay.tokens.endpoint import fingerprint
from signup_relay.tokens.refreshers import LambdaRefresher, LocalRefresher
from signup_relay.tokens.secret_store import StagedSecretStore
from signup_relay.tokens.single_writer import INVALID_GRANT_METRIC, RefreshPolicy, RefreshRequest, SingleWriter
from signup_relay.upsert import wiring as engine
from tests.integration.relay_fixtures import token_refresh_context
from tests.oauth_secret import seed_oauth_secret
from tests.recording_metrics import RecordingMetrics
from tests.sandbox_fixtures import point_engine_at

SECRET_ID = "signup-relay/constant-contact"
SOAK_SECONDS = 60.0
SOAK_TTL = 2
WORKERS = 4
EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="generic", form="Soak")


@dataclass
class Stack:
    sandbox: Sandbox
    secrets: Any

    def secret(self) -> dict[str, Any]:
        return json.loads(self.secrets.get_secret_value(SecretId=SECRET_ID)["SecretString"])

    def writer(self, *, store: StagedSecretStore | None = None, **kwargs: Any) -> SingleWriter:
        return SingleWriter(
            store=store or StagedSecretStore(self.secrets),
            http=requests.Session(),
            token_url=self.sandbox.token_url,
            **kwargs,
        )

    def token_works(self, access_token: str) -> bool:
        answer = requests.get(
            f"{self.sandbox.base_url}/contact_lists", headers={"Authorization": f"Bearer {access_token}"}, timeout=5
        )
        return answer.status_code == 200


def _stack(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, *, expires_in: int | None = None) -> Iterator[Stack]:
    with mock_aws():
        seed_oauth_secret(sandbox, SECRET_ID, expires_in=expires_in)
        point_engine_at(sandbox, monkeypatch, SECRET_ID)
        yield Stack(sandbox, boto3.client("secretsmanager"))
        reset_relay_caches()


@pytest.fixture
def rotating(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """24 h access tokens, rotating refresh tokens, the secret due for refresh (expires within the margin)."""
    yield from _stack(cc_sandbox_unthrottled, monkeypatch, expires_in=600)


@pytest.fixture
def long_lived(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with Sandbox(rate_limit_per_second=0, refresh_token_type="long_lived") as sandbox:
        yield from _stack(sandbox, monkeypatch, expires_in=600)


def _use_lambda(monkeypatch: pytest.MonkeyPatch, lambda_client: Any) -> None:
    """Deployed wiring: TOKEN_REFRESH_FUNCTION set, `lambda:Invoke` answered by `lambda_client`."""
    monkeypatch.setenv("TOKEN_REFRESH_FUNCTION", "TokenRefreshFunction")
    monkeypatch.setattr(refreshers, "get_lambda_client", lru_cache(maxsize=1)(lambda: lambda_client))
    reset_relay_caches()


class CrashingStore(StagedSecretStore):
    """Dies (like a killed process) once, at a chosen step of the staged write."""

    def __init__(self, client: Any, *, crash_on: str) -> None:
        super().__init__(client)
        self.crash_on = crash_on

    def put_pending(self, secret_id: str, data: Any, *, version_id: str) -> str:
        if self.crash_on == "result_put" and "refresh_intent" not in data:
            self.crash_on = ""
            raise SystemExit("killed after the token endpoint answered, before anything was stored")
        return super().put_pending(secret_id, data, version_id=version_id)

    def promote(self, secret_id: str, pending: Any, *, replacing: str) -> str:
        if self.crash_on == "promote":
            self.crash_on = ""
            raise SystemExit("killed after the new pair was stored as pending, before it was promoted")
        return super().promote(secret_id, pending, replacing=replacing)


# --- soak -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_soak_four_workers_and_the_scheduler_with_two_second_rotating_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given rotating refresh tokens whose access tokens live 2 s, the real API limit (4 requests/s),
    # and the engine wired with the in-process single writer, paced to 3.5 requests/s
    with Sandbox(access_token_ttl=SOAK_TTL, refresh_token_type="rotating") as sandbox:
        sandbox.seed_list("Soak")
        monkeypatch.setenv("CC_RATE_LIMIT_PER_SECOND", "3.5")
        for _ in _stack(sandbox, monkeypatch):
            # The scheduler refreshes only tokens that have certainly expired (expires_at is floored to the
            # second): ahead-of-expiry refreshing would, with a 2 s lifetime, be more than one per expiry.
            # The engine's refresher is the container's single writer (no TOKEN_REFRESH_FUNCTION); the scheduler
            # shares it, like the local stack's scheduled check.
            writer = refresh_function.get_single_writer()
            writer.policy = RefreshPolicy(margin_seconds=-1.0, keepalive_seconds=3600)
            assert isinstance(engine.get_refresher(), LocalRefresher)
            results = _run_soak(writer)
            elapsed = results["elapsed"]

            # Then no refresh token was ever refused, and refreshes stayed at one per expiry at most
            requests_made = sandbox.token_requests
            assert sandbox.invalid_grant_count == 0
            assert len(requests_made) <= elapsed / SOAK_TTL + 1, requests_made
            assert sandbox.refresh_count >= elapsed / SOAK_TTL / 3  # the tokens really did keep expiring
            # And no sign-up was lost: every one is in the sandbox, on the list
            assert results["errors"] == []
            assert len(results["emails"]) >= elapsed / 4  # the API limit allows about one sign-up a second here
            soak_list = sandbox.list_id("Soak")
            for email in results["emails"]:
                contact = sandbox.contact_by_email(email)
                assert contact is not None and soak_list in contact["list_memberships"], email
            assert results["scheduler_runs"] >= elapsed / 0.5 / 2


def _run_soak(writer: SingleWriter) -> dict[str, Any]:
    """4 workers upserting until the deadline, retrying transient failures like SQS redelivery; the scheduler."""
    stop = threading.Event()
    emails: list[str] = []
    errors: list[str] = []
    scheduler_runs = 0
    lock = threading.Lock()

    def worker(number: int) -> None:
        count = 0
        while not stop.is_set():
            email = f"soak-{number}-{count}@example.com"
            count += 1
            signup = Signup(email=email, lists=("Soak",), consent=Consent.EXPLICIT, consent_evidence=EVIDENCE)
            for _attempt in range(60):
                try:
                    result = engine.get_upserter(None).upsert(signup)
                except TransientError:
                    time.sleep(0.25)  # SQS would redeliver later
                    continue
                except Exception as exc:  # a permanent error loses the sign-up: the test must fail
                    with lock:
                        errors.append(f"{email}: {type(exc).__name__}: {exc}")
                    break
                with lock:
                    if result.outcome in (Outcome.CREATED, Outcome.UPDATED):
                        emails.append(email)
                    else:
                        errors.append(f"{email}: {result.outcome} {result.reason}")
                break
            else:
                with lock:
                    errors.append(f"{email}: still failing after 60 attempts")

    def scheduler() -> None:
        nonlocal scheduler_runs
        while not stop.wait(0.5):
            try:
                writer.refresh(RefreshRequest(SECRET_ID))
            except Exception as exc:
                with lock:
                    errors.append(f"scheduler: {type(exc).__name__}: {exc}")
            scheduler_runs += 1

    threads = [threading.Thread(target=worker, args=(n,), name=f"soak-worker-{n}") for n in range(WORKERS)]
    threads.append(threading.Thread(target=scheduler, name="soak-scheduler"))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # When they run for 60 s
    stop.wait(SOAK_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    return {
        "elapsed": time.monotonic() - started,
        "emails": emails,
        "errors": errors,
        "scheduler_runs": scheduler_runs,
    }


# --- crashes ----------------------------------------------------------------------------------------------


def test_a_crash_before_promotion_is_recovered_by_the_next_run(rotating: Stack) -> None:
    # Given a refresh killed after the token endpoint answered and the new pair was stored as pending
    metrics = RecordingMetrics()
    with pytest.raises(SystemExit):
        rotating.writer(store=CrashingStore(rotating.secrets, crash_on="promote")).refresh(RefreshRequest(SECRET_ID))
    spent = rotating.secret()
    # When the next scheduled run comes, with nobody touching anything
    outcome = rotating.writer(metrics=metrics).refresh(RefreshRequest(SECRET_ID))
    # Then it promoted the stored pair (no second token request), and the integration works
    secret = rotating.secret()
    assert outcome.recovered and secret["refresh_token"] != spent["refresh_token"]
    assert rotating.sandbox.refresh_count == 1 and metrics.counts == {"TokenRefreshRecovered": 1}
    assert rotating.token_works(secret["access_token"])
    # And the recovered refresh token is the live one: the next refresh succeeds
    again = rotating.writer().refresh(RefreshRequest(SECRET_ID, fingerprint(secret["access_token"])))
    assert again.action == "refreshed" and rotating.sandbox.invalid_grant_count == 0


def test_a_crash_before_anything_is_stored_is_survived_with_long_lived_refresh_tokens(long_lived: Stack) -> None:
    # Given long-lived refresh tokens and a refresh killed before its answer was stored
    with pytest.raises(SystemExit):
        long_lived.writer(store=CrashingStore(long_lived.secrets, crash_on="result_put")).refresh(
            RefreshRequest(SECRET_ID)
        )
    # When the next run comes
    outcome = long_lived.writer().refresh(RefreshRequest(SECRET_ID))
    # Then it refreshed with the same refresh token: no manual step
    assert outcome.action == "refreshed" and long_lived.sandbox.invalid_grant_count == 0
    assert long_lived.token_works(long_lived.secret()["access_token"])


def test_a_crash_before_anything_is_stored_with_rotating_tokens_raises_the_alarm_and_names_the_fix(
    rotating: Stack,
) -> None:
    # Given rotating refresh tokens and a refresh killed between the token endpoint's answer and the first
    # write: the only copy of the new refresh token died with the process (no store can close this window)
    with pytest.raises(SystemExit):
        rotating.writer(store=CrashingStore(rotating.secrets, crash_on="result_put")).refresh(RefreshRequest(SECRET_ID))
    old_access_token = rotating.secret()["access_token"]
    metrics = RecordingMetrics()
    # When the next run comes
    with pytest.raises(ReauthorizationRequiredError) as raised:
        rotating.writer(metrics=metrics).refresh(RefreshRequest(SECRET_ID))
    # Then the operator sees the alarm metric and a message naming the cause and `make connect`
    assert metrics.counts == {INVALID_GRANT_METRIC: 1} and rotating.sandbox.invalid_grant_count == 1
    assert "make connect" in raised.value.message and "interrupted" in raised.value.message
    # And sign-ups keep working until the stored access token expires (the time the operator has to reconnect)
    assert rotating.token_works(old_access_token)


# --- the function and the upsert side's refresher -----------------------------------------------------------


class InProcessLambda:
    """`lambda:Invoke` of the token_refresh handler in this process, with Lambda's error envelope."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        self.payloads.append(Payload)
        try:
            body = token_refresh_app.lambda_handler(json.loads(Payload), token_refresh_context())
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _Body(json.dumps(error))}
        return {"StatusCode": 200, "Payload": _Body(json.dumps(body))}


class _Body:
    def __init__(self, text: str) -> None:
        self.text = text

    def read(self) -> bytes:
        return self.text.encode()


def _emitted_metrics(output: str) -> list[str]:
    names: list[str] = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            names += [m["Name"] for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    return names


def test_the_scheduled_function_refreshes_ahead_of_expiry(rotating: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a secret that expires within the 2 h margin
    before = rotating.secret()
    # When EventBridge's schedule invokes the function
    event = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    answer = token_refresh_app.lambda_handler(event, token_refresh_context())
    # Then it refreshed, recorded the version it replaced, and emitted the TokenRefreshed metric
    secret = rotating.secret()
    assert answer["results"][0]["action"] == "refreshed" and secret["refresh_token"] != before["refresh_token"]
    assert secret["previous_version_id"] and rotating.token_works(secret["access_token"])
    assert "TokenRefreshed" in _emitted_metrics(capsys.readouterr().out)


def test_the_function_emits_the_alarm_metric_on_invalid_grant(
    rotating: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a refresh token spent elsewhere (e.g. a copy of the secret refreshed by hand)
    requests.post(
        rotating.sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": rotating.secret()["refresh_token"]},
        auth=(rotating.sandbox.client_id, rotating.sandbox.client_secret),
        timeout=5,
    ).raise_for_status()
    time.sleep(1.1)  # the token endpoint allows 1 request/s
    # When the scheduled function runs
    with caplog.at_level(logging.INFO), pytest.raises(ReauthorizationRequiredError):
        token_refresh_app.lambda_handler(
            {"source": "aws.events", "detail-type": "Scheduled Event"}, token_refresh_context()
        )
    # Then the invocation failed with the alarm metric and one error line telling the operator to reconnect
    output = capsys.readouterr().out
    assert INVALID_GRANT_METRIC in _emitted_metrics(output)
    ours = [record for record in caplog.records if record.name.startswith("signup-relay")]
    errors = [record.getMessage() for record in ours if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "make connect" in errors[0]
    logged = output + "\n".join(str(record.__dict__) for record in caplog.records)
    assert rotating.secret()["refresh_token"] not in logged and rotating.secret()["access_token"] not in logged


def test_upsert_after_a_401_invokes_the_function_once_and_never_sends_the_token(
    rotating: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given upsert wired with TOKEN_REFRESH_FUNCTION (the LambdaRefresher), and every access token expired early
    rotating.sandbox.seed_list("News")
    lambda_client = InProcessLambda()
    _use_lambda(monkeypatch, lambda_client)
    assert isinstance(engine.get_refresher(), LambdaRefresher)
    stale = rotating.secret()["access_token"]
    rotating.sandbox.expire_access_tokens()
    # When two sign-ups are upserted
    signups = [
        Signup(email=f"after-401-{n}@example.com", lists=("News",), consent=Consent.EXPLICIT, consent_evidence=EVIDENCE)
        for n in range(2)
    ]
    results = [engine.get_upserter(None).upsert(signup) for signup in signups]
    # Then both succeeded after exactly one refresh, asked for with the stale token's sha256 only
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.CREATED]
    assert rotating.sandbox.refresh_count == 1 and len(lambda_client.payloads) == 1
    assert json.loads(lambda_client.payloads[0]) == {
        "secret_id": SECRET_ID,
        "stale_access_token_sha256": fingerprint(stale),
    }
    assert stale.encode() not in lambda_client.payloads[0]
