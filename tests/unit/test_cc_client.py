"""ConstantContactClient: error shapes -> typed errors, 401 and 429 handling, pacing, pagination, counting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import urllib3
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from signup_relay.constant_contact.client import ConstantContactClient
from signup_relay.constant_contact.transport import SERVER_BACKOFF_SECONDS, SERVER_RETRIES, Pacer, parse_error_body
from signup_relay.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    QuotaExceededError,
    ServerError,
    ThrottledError,
    ValidationError,
)

BASE = "https://api.example.test/v3"


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class ScriptedPool(urllib3.PoolManager):
    """Answers each request with the next scripted (status, body); an exception instance is raised instead, as
    urllib3 raises it once its own connection retries are spent."""

    def __init__(self, *script: tuple[int, Any] | Exception) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[SentRequest] = []

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> urllib3.BaseHTTPResponse:
        self.sent.append(SentRequest(method, url, dict(kw.get("headers") or {}), kw.get("body")))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        status, body = step
        data = b"" if body is None else json.dumps(body).encode()
        return urllib3.HTTPResponse(body=data, status=status, headers={"Content-Type": "application/json"})


REFUSED = NewConnectionError(None, "refused")  # type: ignore[arg-type]
ANSWER_LOST = ReadTimeoutError(None, "https://api.example.test", "answer lost")  # type: ignore[arg-type]
DROPPED = ProtocolError("Connection aborted.", ConnectionResetError())


class Tokens:
    def __init__(self) -> None:
        self.token = "token-1"
        self.stale_reports: list[str] = []

    def access_token(self) -> str:
        return self.token

    def after_unauthorized(self, stale_access_token: str) -> str:
        self.stale_reports.append(stale_access_token)
        self.token = "token-2"
        return self.token


def make_client(*script: tuple[int, Any] | Exception) -> tuple[ConstantContactClient, ScriptedPool, Tokens, list]:
    adapter = ScriptedPool(*script)
    tokens = Tokens()
    sleeps: list[float] = []
    client = ConstantContactClient(base_url=BASE, tokens=tokens, http=adapter, sleep=sleeps.append)
    return client, adapter, tokens, sleeps


UNAUTHORIZED = (401, {"error_key": "unauthorized", "error_message": "Unauthorized"})
THROTTLED = (429, {"error_key": "throttled", "error_message": "Too Many Requests"})
QUOTA = (429, {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"})


def test_every_request_sends_json_content_type_and_the_bearer_token() -> None:
    client, adapter, _, _ = make_client((200, {"contacts": []}))
    client.find_contacts_by_email("a@example.com")
    sent = adapter.sent[0]
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Authorization"] == "Bearer token-1"
    assert "status=all" in sent.url
    assert "include=custom_fields%2Clist_memberships" in sent.url


def test_a_401_asks_for_a_new_token_once_and_retries_with_it() -> None:
    # Given an expired token and a token source that has a fresh one
    client, adapter, tokens, _ = make_client(UNAUTHORIZED, (200, {"contact_id": "c1"}))
    # When a call is made
    answer = client.get_contact("c1")
    # Then the stale token was reported once and the retry carried the new token
    assert answer == {"contact_id": "c1"}
    assert tokens.stale_reports == ["token-1"]
    assert adapter.sent[1].headers["Authorization"] == "Bearer token-2"


def test_a_second_401_is_an_auth_error() -> None:
    client, _, tokens, _ = make_client(UNAUTHORIZED, UNAUTHORIZED)
    with pytest.raises(AuthError):
        client.get_contact("c1")
    assert len(tokens.stale_reports) == 1


def test_throttled_backs_off_about_a_second_and_retries() -> None:
    client, adapter, _, sleeps = make_client(THROTTLED, (201, {"contact_id": "c1"}))
    assert client.create_contact({"create_source": "Contact"}) == {"contact_id": "c1"}
    assert sleeps == [1.0]
    assert len(adapter.sent) == 2


def test_persistent_throttling_ends_in_a_throttled_error_after_bounded_retries() -> None:
    client, adapter, _, sleeps = make_client(THROTTLED, THROTTLED, THROTTLED)
    with pytest.raises(ThrottledError):
        client.create_contact({})
    assert len(adapter.sent) == 3
    assert len(sleeps) == 2


def test_quota_exceeded_is_raised_at_once() -> None:
    client, adapter, _, sleeps = make_client(QUOTA)
    with pytest.raises(QuotaExceededError) as raised:
        client.create_contact({})
    assert sleeps == []
    assert len(adapter.sent) == 1
    assert raised.value.quota_key is None  # the V3 app key's quota: the fleet's


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (409, [{"error_key": "contacts.api.conflict", "error_message": "Email already exists"}], ConflictError),
        (400, [{"error_key": "contacts.api.validation.error", "error_message": "bad kind"}], ValidationError),
        (415, [{"error_key": "unsupported_media_type", "error_message": "json only"}], ValidationError),
        (403, [{"error_key": "forbidden", "error_message": "privilege"}], ForbiddenError),
        (404, [{"error_key": "contacts.api.not_found", "error_message": "no such contact"}], NotFoundError),
        (500, None, ServerError),
        (503, [{"error_key": "unavailable", "error_message": "later"}], ServerError),
    ],
)
def test_statuses_map_to_typed_errors(status: int, body: Any, error: type[Exception]) -> None:
    # Given the same answer every time (a 5xx is tried 1 + SERVER_RETRIES times)
    client, adapter, _, _ = make_client(*[(status, body)] * (1 + SERVER_RETRIES))
    with pytest.raises(error):
        client.update_contact("c1", {"update_source": "Contact"})
    assert len(adapter.sent) == (1 + SERVER_RETRIES if status >= 500 else 1)


def test_validation_errors_carry_constant_contacts_key_and_message() -> None:
    client, _, _, _ = make_client((400, [{"error_key": "contacts.api.validation.error", "error_message": "bad kind"}]))
    with pytest.raises(ValidationError) as caught:
        client.create_contact({})
    assert "contacts.api.validation.error" in str(caught.value)
    assert "bad kind" in str(caught.value)
    assert caught.value.details["error_key"] == "contacts.api.validation.error"


def test_a_connection_failure_that_lasts_is_a_server_error() -> None:
    client, adapter, _, sleeps = make_client(*[REFUSED] * (1 + SERVER_RETRIES))
    with pytest.raises(ServerError):
        client.get_contact("c1")
    assert len(adapter.sent) == 1 + SERVER_RETRIES
    assert len(sleeps) == SERVER_RETRIES


@pytest.mark.parametrize(
    ("operation", "first"),
    [
        ("get", (503, None)),
        ("update", (500, [{"error_key": "server_error", "error_message": "oops"}])),
        ("sign_up_form", ANSWER_LOST),
        ("create", (502, None)),
    ],
)
def test_a_transient_failure_is_sent_again_inside_the_call(operation: str, first: Any) -> None:
    # Given one 5xx or lost answer, then success
    client, adapter, _, sleeps = make_client(first, (200, {"contact_id": "c1"}))
    # When the call is made
    call = {
        "get": lambda: client.get_contact("c1"),
        "update": lambda: client.update_contact("c1", {"update_source": "Contact"}),
        "sign_up_form": lambda: client.sign_up_form({"email_address": "a@example.com"}),
        "create": lambda: client.create_contact({"email_address": {"address": "a@example.com"}}),
    }[operation]
    # Then it succeeds on the second send, after a jittered wait within the first backoff step
    assert call()["contact_id"] == "c1"
    assert len(adapter.sent) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= SERVER_BACKOFF_SECONDS


def test_a_lost_post_answer_ends_in_a_conflict_the_caller_resolves() -> None:
    # Given a POST that was written but whose answer was lost: the second send meets the stored contact
    client, adapter, _, _ = make_client(
        DROPPED,
        (409, [{"error_key": "contacts.api.conflict", "error_message": "Email already exists"}]),
    )
    # Then the 409 surfaces (the policy looks the contact up), never a second contact
    with client.meter() as meter, pytest.raises(ConflictError):
        client.create_contact({"email_address": {"address": "a@example.com"}})
    assert len(adapter.sent) == 2
    # And the meter tells the caller the 409 answered a resend (the first send may have created the contact)
    assert (meter.calls, meter.resent) == (2, 1)


@pytest.mark.parametrize(
    ("first", "resent"),
    [
        (REFUSED, 0),
        (MaxRetryError(None, BASE, reason=REFUSED), 0),  # type: ignore[arg-type]  # as urllib3 raises it
        (MaxRetryError(None, BASE, reason=DROPPED), 1),  # type: ignore[arg-type]
    ],
)
def test_a_post_that_never_connected_is_no_resend(first: Exception, resent: int) -> None:
    # Given a POST whose first try never reached the server (refused), then a 409 from someone else's contact
    client, adapter, _, _ = make_client(
        first,
        (409, [{"error_key": "contacts.api.conflict", "error_message": "Email already exists"}]),
    )
    with client.meter() as meter, pytest.raises(ConflictError):
        client.create_contact({"email_address": {"address": "a@example.com"}})
    # Then both tries count as calls, but only a try the server may have seen makes the second one a resend
    assert len(adapter.sent) == 2
    assert (meter.calls, meter.resent) == (2, resent)


def test_a_resubscribe_whose_answer_was_lost_is_sent_again_and_meets_the_409() -> None:
    # Given a resubscribe that was applied (the email went out) but whose answer was lost
    client, adapter, _, _ = make_client(
        ANSWER_LOST,
        (409, [{"error_key": "contacts.api.conflict", "error_message": "resubscribe email already sent"}]),
    )
    # Then the resend meets Constant Contact's once-ever rule (409), which the policy reads as "already sent"
    with pytest.raises(ConflictError):
        client.resubscribe_contact("c1", ["l1"])
    assert [request.method for request in adapter.sent] == ["PUT", "PUT"]


def test_both_error_shapes_parse() -> None:
    array = parse_error_body(400, [{"error_key": "a", "error_message": "m"}, {"error_key": "b", "error_message": "n"}])
    single = parse_error_body(401, {"error_key": "unauthorized", "error_message": "Unauthorized"})
    assert [d.error_key for d in array] == ["a", "b"]
    assert single[0].error_key == "unauthorized"
    assert parse_error_body(500, "oops")[0].error_key == ""


def test_collections_follow_the_next_link_and_calls_are_counted() -> None:
    # Given two pages of tags
    client, adapter, _, _ = make_client(
        (200, {"tags": [{"tag_id": "t1"}], "_links": {"next": {"href": "/v3/contact_tags?cursor=abc"}}}),
        (200, {"tags": [{"tag_id": "t2"}]}),
    )
    # When all tags are listed inside a meter
    with client.meter() as meter:
        tags = client.list_tags()
    # Then both pages are read, the cursor link resolved against the API host, and two calls counted
    assert [t["tag_id"] for t in tags] == ["t1", "t2"]
    assert adapter.sent[1].url == "https://api.example.test/v3/contact_tags?cursor=abc"
    assert meter.calls == 2
    assert [request.method for request in adapter.sent] == ["GET", "GET"]


def test_a_meter_closed_inside_another_leaves_the_outer_one_counting() -> None:
    # Given an outer meter and an inner one opened and closed before any call (both still at zero)
    client, adapter, _, _ = make_client((200, {"tags": []}))
    with client.meter() as outer:
        with client.meter() as inner:
            pass
        # When a call is made after the inner one closed
        client.list_tags()
    # Then the outer meter counts it, the closed inner one does not
    assert len(adapter.sent) == 1
    assert (outer.calls, inner.calls) == (1, 0)


def test_meter_counts_retries_as_calls() -> None:
    client, adapter, _, _ = make_client(UNAUTHORIZED, THROTTLED, (200, {}))
    with client.meter() as meter:
        client.get_contact("c1")
    assert meter.calls == 3
    assert len(adapter.sent) == 3  # each counted call was a request on the wire


def test_pacer_spaces_requests_to_the_configured_rate() -> None:
    # Given a fake clock that does not move by itself and a 4/s pacer
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep, margin_seconds=0.0)
    # When five requests start at the same instant
    for _ in range(5):
        pacer.wait()
    # Then the first goes at once and the others wait 0.25 s more each
    assert slept == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_pacer_zero_rate_never_waits() -> None:
    slept: list[float] = []
    pacer = Pacer(0, clock=lambda: 0.0, sleep=slept.append)
    for _ in range(10):
        pacer.wait()
    assert slept == []


@pytest.mark.parametrize(
    "href", ["https://elsewhere.example/v3/contact_tags?cursor=abc", "http://api.example.test/v3/x"]
)
def test_a_next_link_to_another_host_is_not_followed_with_the_token(href: str) -> None:
    # Given a page whose next link points at another host (or scheme)
    client, adapter, _, _ = make_client((200, {"tags": [{"tag_id": "t1"}], "_links": {"next": {"href": href}}}))
    # When the collection is read, Then it stops with an error and the token went to the API host only
    with pytest.raises(ServerError, match="another host"):
        client.list_tags()
    assert [request.url.split("/v3/")[0] for request in adapter.sent] == ["https://api.example.test"]
