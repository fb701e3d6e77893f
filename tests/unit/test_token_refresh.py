"""The single-writer token refresh: decisions, staged writes, crash recovery, invalid_grant, pacing, the event.

Secrets Manager is moto; the token endpoint is an in-memory fake with Constant Contact's rotating /
long-lived refresh-token rules (the sandbox-backed tests are in tests/integration/test_token_lifecycle.py).
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from requests.adapters import HTTPAdapter

from signup_relay.errors import AuthError, ConfigError, ReauthorizationRequiredError, TransientError
from signup_relay.tokens.endpoint import fingerprint, mask_token
from signup_relay.tokens.refresh_function import handle_refresh_event
from signup_relay.tokens.refreshers import LambdaRefresher
from signup_relay.tokens.secret_store import PENDING_STAGE, SecretConflictError, StagedSecretStore
from signup_relay.tokens.single_writer import (
    INVALID_GRANT_METRIC,
    RefreshOutcome,
    RefreshPolicy,
    RefreshRequest,
    SingleWriter,
    refresh_reason,
)
from tests.recording_metrics import RecordingMetrics

SECRET_ID = "signup-relay/constant-contact"
TOKEN_URL = "https://authz.example/token"
START = 1_800_000_000.0
DAY = 86400


class FakeClock:
    """Time that only moves when someone sleeps (or a test advances it)."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0)


class FakeTokenEndpoint:
    """Constant Contact's refresh_token grant: rotating tokens die when used, long-lived ones live on."""

    def __init__(self, clock: FakeClock, *, refresh_token_type: str = "rotating", ttl: int = DAY) -> None:
        self.clock = clock
        self.type = refresh_token_type
        self.ttl = ttl
        self.valid_refresh_tokens = {"refresh-0"}
        self.requests: list[dict[str, Any]] = []  # {"at", "refresh_token", "status", "error"}
        self.queued_statuses: list[int] = []
        self.issued = 0

    def post(self, url: str, *, data: dict[str, str], headers: dict[str, str], timeout: Any) -> requests.Response:
        assert headers.get("Authorization", "").startswith("Basic ")
        token = data.get("refresh_token", "")
        entry = {"at": self.clock.time(), "refresh_token": token}
        self.requests.append(entry)
        if self.queued_statuses:
            status = self.queued_statuses.pop(0)
            entry.update(status=status, error="queued")
            return _response(status, {"error": "temporarily_unavailable"})
        if data.get("grant_type") != "refresh_token" or token not in self.valid_refresh_tokens:
            entry.update(status=400, error="invalid_grant")
            return _response(400, {"error": "invalid_grant", "error_description": "The refresh token is invalid."})
        self.issued += 1
        new_refresh = token
        if self.type == "rotating":
            new_refresh = f"refresh-{self.issued}"
            self.valid_refresh_tokens = {new_refresh}
        entry.update(status=200, error=None)
        body = {"access_token": f"access-{self.issued}", "refresh_token": new_refresh, "expires_in": self.ttl}
        return _response(200, {**body, "token_type": "Bearer", "scope": "offline_access contact_data"})

    @property
    def invalid_grants(self) -> int:
        return sum(1 for entry in self.requests if entry.get("error") == "invalid_grant")


def _response(status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


class CrashingStore(StagedSecretStore):
    """A store that dies (like a killed process) at one chosen step, once."""

    def __init__(self, client: Any, *, crash_on: str, clock: FakeClock) -> None:
        super().__init__(client, clock=clock)
        self.crash_on = crash_on
        self.puts = 0

    def put_pending(self, secret_id: str, data: Any, *, version_id: str) -> str:
        self.puts += 1
        if self.crash_on == "result_put" and "refresh_intent" not in data:
            self.crash_on = ""
            raise SystemExit("crash after the token endpoint answered, before the result was stored")
        return super().put_pending(secret_id, data, version_id=version_id)

    def promote(self, secret_id: str, pending: Any, *, replacing: str) -> str:
        if self.crash_on == "promote":
            self.crash_on = ""
            raise SystemExit("crash after the result was stored, before it was promoted")
        return super().promote(secret_id, pending, replacing=replacing)


@pytest.fixture
def secrets_client() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _seed(client: Any, *, expires_in: float = 60, refreshed_ago: float = 0, **extra: Any) -> str:
    secret = {
        "client_id": "key-1",
        "client_secret": "shh",
        "access_token": "access-0",
        "refresh_token": "refresh-0",
        "expires_at": int(START + expires_in),
        "refresh_token_type": "rotating",
        "refreshed_at": START - refreshed_ago,
        **extra,
    }
    return client.create_secret(Name=SECRET_ID, SecretString=json.dumps(secret))["VersionId"]


def _current(client: Any) -> tuple[str, dict[str, Any], list[str]]:
    response = client.get_secret_value(SecretId=SECRET_ID)
    return response["VersionId"], json.loads(response["SecretString"]), response["VersionStages"]


def _stages(client: Any) -> dict[str, list[str]]:
    versions = client.list_secret_version_ids(SecretId=SECRET_ID)["Versions"]
    return {v["VersionId"]: v.get("VersionStages", []) for v in versions}


def _refresh(client: Any, endpoint: Any, clock: FakeClock, request: RefreshRequest, **kwargs: Any) -> RefreshOutcome:
    store = kwargs.pop("store", None) or StagedSecretStore(client, clock=clock)
    writer = SingleWriter(store=store, http=endpoint, token_url=TOKEN_URL, clock=clock, **kwargs)
    return writer.refresh(request)


# --- decisions (pure) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "refreshed_ago", "expected"),
    [
        (3600, 0, (True, "near_expiry")),  # 1 h left < 2 h margin
        (20 * 3600, 0, (False, "fresh")),
        (20 * 3600, 8 * DAY, (True, "keep_alive")),  # keeps a long-lived refresh token from idling out
    ],
)
def test_scheduled_mode_refreshes_ahead_of_expiry_and_to_keep_refresh_tokens_alive(
    expires_in: float, refreshed_ago: float, expected: tuple[bool, str]
) -> None:
    # Given a stored secret with some time left and some age
    data = {"access_token": "a", "expires_at": START + expires_in, "refreshed_at": START - refreshed_ago}
    # When the schedule asks
    decision = refresh_reason(data, RefreshRequest(SECRET_ID), now=START, policy=RefreshPolicy())
    # Then it refreshes only when near expiry or a week since the last refresh
    assert decision == expected


def test_on_demand_mode_refreshes_only_the_token_the_caller_saw_rejected() -> None:
    # Given a stored access token that is far from its expiry
    data = {"access_token": "current", "expires_at": START + 20 * 3600, "refreshed_at": START}
    policy = RefreshPolicy()
    # When a caller reports that very token rejected, or an older one
    same = refresh_reason(data, RefreshRequest(SECRET_ID, fingerprint("current")), now=START, policy=policy)
    older = refresh_reason(data, RefreshRequest(SECRET_ID, fingerprint("older")), now=START, policy=policy)
    # Then only the first refreshes (the API is the authority on expiry); the second just re-reads
    assert same == (True, "rejected_by_api")
    assert older == (False, "already_refreshed")


def test_mask_token_shows_only_length_and_last_four_characters() -> None:
    # Given a token
    token = "eyJhbGciOiJSUzI1NiJ9.payload.signature-WXYZ"
    # When masked
    shown = mask_token(token)
    # Then the token itself is not there
    assert token[:-4] not in shown and shown.endswith(f"WXYZ ({len(token)} chars)")


# --- the staged write -------------------------------------------------------------------------------


def test_refresh_stores_the_new_pair_as_current_and_records_the_version_it_replaced(secrets_client: Any) -> None:
    # Given a secret whose access token expires within the margin
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    old_version = _seed(secrets_client, expires_in=600)
    # When the scheduled refresh runs
    outcome = _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID))
    # Then the new pair is AWSCURRENT, the old version is AWSPREVIOUS and named in the secret
    version, data, stages = _current(secrets_client)
    assert (outcome.action, outcome.reason) == ("refreshed", "near_expiry")
    assert data["access_token"] == "access-1" and data["refresh_token"] == "refresh-1"
    assert data["expires_at"] == int(START + DAY) and data["previous_version_id"] == old_version
    assert "AWSPREVIOUS" in _stages(secrets_client)[old_version]
    assert outcome.version_id == version and outcome.access_token_sha256 == fingerprint("access-1")
    # And no version is left staged pending, and exactly one token request was made
    assert not any(PENDING_STAGE in s for s in _stages(secrets_client).values())
    assert len(endpoint.requests) == 1 and "refresh_intent" not in data


def test_a_caller_that_lost_the_race_gets_the_new_token_without_a_second_refresh(secrets_client: Any) -> None:
    # Given two callers that both saw access-0 rejected
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    _seed(secrets_client, expires_in=20 * 3600)
    stale = RefreshRequest(SECRET_ID, fingerprint("access-0"))
    # When both ask for a refresh, one after the other (the single writer serializes them)
    first = _refresh(secrets_client, endpoint, clock, stale)
    second = _refresh(secrets_client, endpoint, clock, stale)
    # Then one refresh happened and the second caller is pointed at the same new token
    assert (first.action, second.action, second.reason) == ("refreshed", "skipped", "already_refreshed")
    assert second.access_token_sha256 == fingerprint("access-1")
    assert len(endpoint.requests) == 1


def test_long_lived_refresh_tokens_are_recognised_and_kept(secrets_client: Any) -> None:
    # Given an app with long-lived refresh tokens, recorded as rotating by mistake
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock, refresh_token_type="long_lived")
    _seed(secrets_client, expires_in=0)
    # When it refreshes
    _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID))
    # Then the same refresh token is kept and the type corrected
    _, data, _ = _current(secrets_client)
    assert data["refresh_token"] == "refresh-0" and data["refresh_token_type"] == "long_lived"


class ScriptedTokenEndpoint(HTTPAdapter):
    """The token endpoint behind a real requests.Session, to see the HTTP request exactly as it is sent."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.body = body
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        response = _response(200, self.body)
        response.request = request
        return response


def test_refresh_posts_basic_auth_and_a_form_body_and_stores_the_new_pair(secrets_client: Any) -> None:
    # Given a stored rotating pair and a token endpoint that rotates it
    clock = FakeClock()
    endpoint = ScriptedTokenEndpoint({"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": DAY})
    http = requests.Session()
    http.mount("https://", endpoint)
    _seed(secrets_client, expires_in=0)
    # When the refresh runs
    _refresh(secrets_client, http, clock, RefreshRequest(SECRET_ID))
    # Then the request used Basic client_id:client_secret and grant_type=refresh_token in the form body
    sent = endpoint.requests[0]
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"key-1:shh").decode()
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(str(sent.body)) == {"grant_type": ["refresh_token"], "refresh_token": ["refresh-0"]}
    # And the new pair was stored with its expiry and type, keeping the client credentials
    _, data, _ = _current(secrets_client)
    assert data["access_token"] == "access-2"
    assert data["refresh_token"] == "refresh-2"
    assert data["expires_at"] == int(START + DAY)
    assert data["refresh_token_type"] == "rotating"
    assert data["client_secret"] == "shh"


def test_a_token_endpoint_outage_is_transient_and_stores_nothing(secrets_client: Any) -> None:
    # Given a token endpoint that keeps answering 503
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    endpoint.queued_statuses = [503, 503, 503]
    _seed(secrets_client, expires_in=0)
    # When the refresh runs
    with pytest.raises(TransientError):
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID))
    # Then it gave up after its retries (SQS redelivers), and the stored pair is untouched
    _, data, _ = _current(secrets_client)
    assert [entry["status"] for entry in endpoint.requests] == [503, 503, 503]
    assert data["access_token"] == "access-0" and data["refresh_token"] == "refresh-0"
    assert not any(PENDING_STAGE in s for s in _stages(secrets_client).values())


def test_token_requests_are_at_least_a_second_apart(secrets_client: Any) -> None:
    # Given a secret refreshed a moment ago whose new token the API already rejects
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    _seed(secrets_client, expires_in=DAY, token_requested_at=START - 0.25)
    # When two refreshes follow each other immediately
    _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID, fingerprint("access-0")))
    _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID, fingerprint("access-1")))
    # Then every token request is at least 1 s after the previous one (the endpoint allows 1 request/s)
    times = [START - 0.25] + [entry["at"] for entry in endpoint.requests]
    assert len(times) == 3
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in zip(times, times[1:], strict=False))


def test_a_throttled_token_request_is_retried_after_a_pause(secrets_client: Any) -> None:
    # Given a token endpoint that answers 429 once
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    endpoint.queued_statuses = [429]
    _seed(secrets_client, expires_in=0)
    # When the refresh runs
    outcome = _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID))
    # Then it succeeded on the second request, a second or more later
    assert outcome.action == "refreshed" and [e["status"] for e in endpoint.requests] == [429, 200]
    assert endpoint.requests[1]["at"] - endpoint.requests[0]["at"] >= 1.0


def test_an_unwritable_secret_stops_the_refresh_before_the_refresh_token_is_spent(secrets_client: Any) -> None:
    # Given a store whose writes are denied
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    _seed(secrets_client, expires_in=0)

    class DeniedStore(StagedSecretStore):
        def put_pending(self, secret_id: str, data: Any, *, version_id: str) -> str:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutSecretValue")

    # When the refresh runs
    with pytest.raises(ClientError):
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), store=DeniedStore(secrets_client))
    # Then the token endpoint was never called: the rotating refresh token is still good
    assert endpoint.requests == []


def test_a_secret_replaced_by_connect_during_a_refresh_is_not_overwritten(secrets_client: Any) -> None:
    # Given an operator who runs `connect` while a refresh is between its token request and its promotion
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    _seed(secrets_client, expires_in=0)
    connected = {"client_id": "key-1", "access_token": "from-connect", "refresh_token": "r-connect", "expires_at": 1}

    class ConnectRacesStore(StagedSecretStore):
        def promote(self, secret_id: str, pending: Any, *, replacing: str) -> str:
            secrets_client.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(connected))
            return super().promote(secret_id, pending, replacing=replacing)

    # When the refresh tries to promote its result
    with pytest.raises(SecretConflictError):
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), store=ConnectRacesStore(secrets_client))
    # Then the newer secret written by connect stays current
    assert _current(secrets_client)[1]["access_token"] == "from-connect"


# --- crashes ------------------------------------------------------------------------------------------


def test_a_crash_after_storing_but_before_promoting_heals_on_the_next_run(secrets_client: Any) -> None:
    # Given a rotating refresh token and a refresh that dies after storing the new pair as pending
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    metrics = RecordingMetrics()
    _seed(secrets_client, expires_in=0)
    crashing = CrashingStore(secrets_client, crash_on="promote", clock=clock)
    with pytest.raises(SystemExit):
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), store=crashing)
    assert _current(secrets_client)[1]["refresh_token"] == "refresh-0"  # the spent one is still current
    # When the next scheduled run comes
    clock.sleep(300)
    outcome = _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), metrics=metrics)
    # Then it promoted the stored pair instead of spending the dead refresh token
    _, data, _ = _current(secrets_client)
    assert outcome.recovered and (outcome.action, outcome.reason) == ("skipped", "fresh")
    assert data["refresh_token"] == "refresh-1" and endpoint.invalid_grants == 0
    assert len(endpoint.requests) == 1 and metrics.counts == {"TokenRefreshRecovered": 1}
    # And the recovered pair refreshes normally afterwards
    clock.sleep(DAY)
    assert _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID)).action == "refreshed"
    assert endpoint.invalid_grants == 0


def test_a_crash_between_the_token_answer_and_the_store_survives_with_long_lived_refresh_tokens(
    secrets_client: Any,
) -> None:
    # Given long-lived refresh tokens and a refresh that dies before its answer is stored
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock, refresh_token_type="long_lived")
    _seed(secrets_client, expires_in=0, refresh_token_type="long_lived")
    with pytest.raises(SystemExit):
        crashing = CrashingStore(secrets_client, crash_on="result_put", clock=clock)
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), store=crashing)
    # When the next run comes
    outcome = _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID))
    # Then it refreshed with the same refresh token: no manual step
    assert outcome.action == "refreshed" and endpoint.invalid_grants == 0
    assert _current(secrets_client)[1]["access_token"] == "access-2"


def test_a_crash_between_the_token_answer_and_the_store_with_rotating_tokens_tells_the_operator_why(
    secrets_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given rotating refresh tokens and a refresh that dies before its answer is stored (the one window
    # no store can close: the only copy of the new refresh token was in the dead process)
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    metrics = RecordingMetrics()
    _seed(secrets_client, expires_in=0)
    with pytest.raises(SystemExit):
        crashing = CrashingStore(secrets_client, crash_on="result_put", clock=clock)
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), store=crashing)
    # When the next run comes
    with caplog.at_level(logging.ERROR), pytest.raises(ReauthorizationRequiredError) as raised:
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), metrics=metrics)
    # Then the operator gets the alarm metric and one log line naming the cause and the fix
    assert metrics.counts.get(INVALID_GRANT_METRIC) == 1
    assert "make connect" in raised.value.message and "interrupted" in raised.value.message
    assert any("make connect" in record.getMessage() for record in caplog.records)


def test_invalid_grant_raises_reauthorization_with_metric_and_no_token_in_the_log(
    secrets_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a refresh token Constant Contact no longer accepts (revoked, or idle for 180 days)
    clock = FakeClock()
    endpoint = FakeTokenEndpoint(clock)
    endpoint.valid_refresh_tokens = set()
    metrics = RecordingMetrics()
    _seed(secrets_client, expires_in=0)
    # When the refresh runs
    with caplog.at_level(logging.INFO), pytest.raises(ReauthorizationRequiredError) as raised:
        _refresh(secrets_client, endpoint, clock, RefreshRequest(SECRET_ID), metrics=metrics)
    # Then: alarm metric, a clear instruction, no token in any log line, nothing left pending
    assert metrics.counts == {INVALID_GRANT_METRIC: 1}
    assert f"make connect ARGS='--secret-id {SECRET_ID}'" in raised.value.message
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "refresh-0" not in logged and "access-0" not in logged and "shh" not in logged
    assert not any(PENDING_STAGE in s for s in _stages(secrets_client).values())


def test_a_missing_secret_says_to_run_connect(secrets_client: Any) -> None:
    # Given no secret at all
    clock = FakeClock()
    # When a refresh is asked for
    with pytest.raises(ConfigError) as raised:
        _refresh(secrets_client, FakeTokenEndpoint(clock), clock, RefreshRequest(SECRET_ID))
    # Then the error tells what to do
    assert "make connect" in raised.value.message


# --- the function's event -----------------------------------------------------------------------------


class _Recorder:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.requests: list[RefreshRequest] = []
        self.failing = failing or set()

    def __call__(self, request: RefreshRequest) -> Any:
        self.requests.append(request)
        if request.secret_id in self.failing:
            raise ReauthorizationRequiredError("dead", secret_id=request.secret_id)

        class _Outcome:
            def as_dict(self) -> dict[str, Any]:
                return {"secret_id": request.secret_id, "action": "skipped"}

        return _Outcome()


SCHEDULED_EVENT = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def test_a_scheduled_event_refreshes_every_account_and_fails_loudly_if_one_is_dead() -> None:
    # Given two accounts, one of them dead
    recorder = _Recorder(failing={"acct-b"})
    event = {**SCHEDULED_EVENT, "secret_ids": ["acct-a", "acct-b", "acct-c"]}
    # When the schedule fires
    with pytest.raises(ReauthorizationRequiredError):
        handle_refresh_event(event, refresh=recorder, default_secret_ids=["unused"])
    # Then every account was tried, without a stale fingerprint (ahead-of-expiry mode)
    assert [(r.secret_id, r.stale_access_token_sha256) for r in recorder.requests] == [
        ("acct-a", None),
        ("acct-b", None),
        ("acct-c", None),
    ]


def test_an_on_demand_event_carries_a_fingerprint_and_a_raw_token_is_refused_without_echoing_it() -> None:
    # Given an on-demand payload and a wrong one that carries a raw token
    recorder = _Recorder()
    good = {"secret_id": "acct-a", "stale_access_token_sha256": fingerprint("tok")}
    bad = {"secret_id": "acct-a", "stale_access_token": "raw-token-value"}
    # When each is handled
    answer = handle_refresh_event(good, refresh=recorder, default_secret_ids=[])
    with pytest.raises(ConfigError) as raised:
        handle_refresh_event(bad, refresh=recorder, default_secret_ids=[])
    # Then the good one is refreshed for that account; the bad one is refused and the token not repeated
    assert answer["mode"] == "on_demand" and recorder.requests == [RefreshRequest("acct-a", fingerprint("tok"))]
    assert "raw-token-value" not in str(raised.value) and raised.value.__cause__ is None


# --- the upsert side's LambdaRefresher ------------------------------------------------------------------


class FakeLambda:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _payload(body: dict[str, Any], function_error: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
    if function_error:
        answer["FunctionError"] = function_error
    return answer


def test_lambda_refresher_sends_a_fingerprint_and_waits_out_a_busy_single_writer() -> None:
    # Given a refresh function that is busy once (reserved concurrency 1), then answers
    busy = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")
    client = FakeLambda([busy, _payload({"action": "refreshed"})])
    clock = FakeClock()
    # When the upsert side asks for a refresh
    LambdaRefresher("signup-relay-TokenRefresh", client, clock=clock)(SECRET_ID, "stale-token")
    # Then it invoked synchronously twice with the token's sha256, never the token
    assert len(client.calls) == 2 and clock.slept == [1.0]
    sent = json.loads(client.calls[1]["Payload"])
    assert client.calls[1]["InvocationType"] == "RequestResponse"
    assert sent == {"secret_id": SECRET_ID, "stale_access_token_sha256": fingerprint("stale-token")}


def test_lambda_refresher_maps_function_errors() -> None:
    # Given a refresh function that failed with invalid_grant, and one that failed otherwise
    dead = _payload({"errorType": "ReauthorizationRequiredError", "errorMessage": "run make connect"}, "Unhandled")
    other = _payload({"errorType": "Sandbox.Timedout", "errorMessage": "timed out"}, "Unhandled")
    refresher = LambdaRefresher("fn", FakeLambda([dead, other]), clock=FakeClock())
    # When the upsert side asks twice
    # Then a dead grant is permanent (to the DLQ with the reason) and anything else transient
    with pytest.raises(ReauthorizationRequiredError, match="make connect"):
        refresher(SECRET_ID, "stale")
    with pytest.raises(AuthError):
        refresher(SECRET_ID, "stale")
