"""A write that Constant Contact applied but whose answer was lost on the way back: the client sends it again.

The sandbox applies each request for real; the connection pool below then drops the answer of the first matching
one, as a connection reset after the server's write would. The resend meets what the first send did (a POST's 409,
sign_up_form's `updated`), and the outcome must still say `created`, with one contact stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws
from urllib3.exceptions import ProtocolError

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.constant_contact.transport import connect_retry
from signup_relay.models import Outcome, Signup
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert import wiring
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at
from tests.v2_account import seed_v2_secret

V3_ACCOUNT = "signup-relay/constant-contact"
V2_ACCOUNT = f"{V3_ACCOUNT}/legacy"


class OncePool(urllib3.PoolManager):
    """Sends every request to the real server; after the first `method` request to `path` is answered, runs
    `then(status)`: dropping the answer (`lose`), or a concurrent writer acting before the answer arrives."""

    def __init__(self, method: str, path: str, then: Callable[[int], None]) -> None:
        super().__init__(retries=connect_retry())
        self.method, self.path, self.then = method, path, then
        self.seen: list[int] = []  # the status the server answered the intercepted request

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if not self.seen and method == self.method and urllib3.util.parse_url(url).path == self.path:
            self.seen.append(response.status)
            self.then(response.status)
        return response


def lose(status: int) -> None:
    raise ProtocolError("Connection aborted.", ConnectionResetError("the answer was lost"))


@pytest.fixture
def sandbox(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    sandbox = cc_sandbox_unthrottled
    sandbox.seed_list("News")
    with mock_aws():
        boto3.client("secretsmanager")
        seed_oauth_secret(sandbox, V3_ACCOUNT)
        seed_v2_secret(sandbox, V2_ACCOUNT, cc_secret_id=V3_ACCOUNT)
        point_engine_at(sandbox, monkeypatch, V3_ACCOUNT, v2=True, rate_limit_per_second=0)
        yield sandbox
        reset_relay_caches()


def intercept(monkeypatch: pytest.MonkeyPatch, method: str, path: str, then: Callable[[int], None] = lose) -> OncePool:
    pool = OncePool(method, path, then)
    monkeypatch.setattr(wiring, "get_http", lambda: pool)
    return pool


def signup(email: str, consent: Consent = Consent.IMPLICIT, api: str | None = None) -> Signup:
    return Signup(
        email=email,
        first_name="Lost",
        lists=("News",),
        consent=consent,
        options=UpsertOptions(allow_create_without_consent=True, api=api),  # type: ignore[arg-type]
    )


def stored_as(sandbox: Sandbox, email: str) -> list[dict[str, Any]]:
    """Every contact the sandbox holds with this address (deleted ones included)."""
    return [c for c in sandbox.all_contacts() if c["email_address"]["address"] == email]


def writes(sandbox: Sandbox, path: str) -> list[int]:
    return [entry["status"] for entry in sandbox.request_log if entry["method"] != "GET" and entry["path"] == path]


def test_a_post_whose_answer_was_lost_is_reported_created(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a new address, and the answer to the POST that creates it lost after the sandbox stored the contact
    pool = intercept(monkeypatch, "POST", "/v3/contacts")
    # When it is upserted
    result = wiring.get_upserter().upsert(signup("lost.post@example.com"))
    # Then the resend met the contact the first send created (409), and the outcome says created
    assert pool.seen == [201]
    assert writes(sandbox, "/v3/contacts") == [201, 409]
    assert (result.outcome, result.reason) == (
        Outcome.CREATED,
        "created; the first send went unanswered (or failed) and its resend met the new contact",
    )
    # And one contact is stored, with what the sign-up sent
    [stored] = stored_as(sandbox, "lost.post@example.com")
    assert stored["first_name"] == "Lost" and len(stored["list_memberships"]) == 1
    assert result.contact_id == stored["contact_id"]


def test_a_sign_up_form_whose_answer_was_lost_is_reported_created(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given explicit consent from a new address, and sign_up_form's answer lost after the sandbox created the contact
    pool = intercept(monkeypatch, "POST", "/v3/contacts/sign_up_form")
    # When it is upserted
    result = wiring.get_upserter().upsert(signup("lost.form@example.com", Consent.EXPLICIT))
    # Then the resend answered `updated` (the contact existed by then), and the outcome still says created
    assert pool.seen == [201]
    assert writes(sandbox, "/v3/contacts/sign_up_form") == [201, 200]
    assert result.outcome is Outcome.CREATED
    # And one contact is stored, explicit, with what the sign-up sent
    [stored] = stored_as(sandbox, "lost.form@example.com")
    assert stored["email_address"]["permission_to_send"] == "explicit"
    assert stored["first_name"] == "Lost" and len(stored["list_memberships"]) == 1
    assert result.contact_id == stored["contact_id"]


def test_a_v2_post_whose_answer_was_lost_is_reported_created(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a V2 account, and the answer to its contact POST lost after the sandbox stored the contact
    pool = intercept(monkeypatch, "POST", "/v2/contacts")
    # When it is upserted
    result = wiring.get_upserter(V2_ACCOUNT, "v2").upsert(signup("lost.v2@example.com", api="v2"))
    # Then the resend met the 409, the lookup found the contact, and the outcome says created
    assert pool.seen == [201]
    assert writes(sandbox, "/v2/contacts") == [201, 409]
    assert result.outcome is Outcome.CREATED
    # And one contact is stored, with what the sign-up sent; the result names it by its V2 id
    [stored] = stored_as(sandbox, "lost.v2@example.com")
    assert stored["first_name"] == "Lost" and len(stored["list_memberships"]) == 1
    assert result.contact_id == sandbox.v2_contact_id(stored["contact_id"])


def test_without_a_lost_answer_a_409_is_someone_elses_contact_and_stays_updated(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another writer creating the contact between our lookup and our POST (the POST meets 409 at its first send)
    intercept(monkeypatch, "GET", "/v3/contacts", lambda status: sandbox.seed_contact("raced@example.com"))
    # When it is upserted
    result = wiring.get_upserter().upsert(signup("raced@example.com"))
    # Then nothing was resent, so the contact is not ours: the outcome is updated, and the sign-up's fields are stored
    assert writes(sandbox, "/v3/contacts") == [409]
    assert result.outcome is Outcome.UPDATED
    stored = sandbox.contact_by_email("raced@example.com")
    assert stored is not None and stored["first_name"] == "Lost"
