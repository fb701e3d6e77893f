"""The upsert engine end to end: moto Secrets Manager for tokens, the Constant Contact sandbox over real HTTP.

Every test asserts what the sandbox stored afterwards, not only what the engine returned.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest
from moto import mock_aws

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.clock import utc_now
from signup_relay.constant_contact.transport import SERVER_RETRIES
from signup_relay.errors import ConflictError, ServerError
from signup_relay.models import Address, Outcome
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.tokens import refreshers
from signup_relay.upsert import wiring as engine
from tests.engine_support import WiredEngine
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at
from tests.signups import signup

SECRET_ID = "signup-relay/constant-contact"
LONG_EMAIL = "a-rather-long-local-part-for-testing-purposes@subdomain.example.com"  # 67 characters


def _wire(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, *, requests_per_second: float) -> Iterator[WiredEngine]:
    with mock_aws():
        seed_oauth_secret(sandbox, SECRET_ID)
        point_engine_at(sandbox, monkeypatch, SECRET_ID, rate_limit_per_second=requests_per_second)
        yield WiredEngine(sandbox, SECRET_ID)
        reset_relay_caches()


@pytest.fixture
def cc(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[WiredEngine]:
    """The engine against a sandbox without the per-second limit (these tests are not about pacing)."""
    yield from _wire(cc_sandbox_unthrottled, monkeypatch, requests_per_second=0)


def permission_changes(sandbox: Sandbox, contact: dict[str, Any]) -> list[str]:
    return [str(entry["to"]) for entry in sandbox.permission_history(contact["contact_id"])]


# --- new contacts ---------------------------------------------------------------------------------------


def test_new_contact_with_explicit_consent_is_created_by_sign_up_form(cc: WiredEngine) -> None:
    # Given nobody with that address
    # When an explicit sign-up arrives
    result = cc.upsert(signup("new@example.com", Consent.EXPLICIT, first_name="Grace"))
    # Then it is created, explicit, from the contact, on the list, in lookup + sign_up_form (+ the cold list lookup)
    assert result.outcome is Outcome.CREATED
    assert result.calls == 3
    assert cc.upsert(signup("next@example.com", Consent.EXPLICIT)).calls == 2
    contact = cc.stored("new@example.com")
    assert contact["contact_id"] == result.contact_id
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["create_source"] == "Contact"
    assert contact["first_name"] == "Grace"
    assert contact["list_memberships"] == [cc.news]


def test_new_contact_with_implicit_consent_is_posted_with_the_consent_note(cc: WiredEngine) -> None:
    # Given nobody with that address
    # When an implicit sign-up with a phone and an address arrives
    result = cc.upsert(
        signup("implicit@example.com", phone="+1 555 0100", address=Address(kind="work", city="Arlington"))
    )
    # Then it is created implicit from the contact, with phone, address and the consent note
    assert result.outcome is Outcome.CREATED
    contact = cc.stored("implicit@example.com")
    assert contact["email_address"]["permission_to_send"] == "implicit"
    assert contact["create_source"] == "Contact"
    assert [p["phone_number"] for p in contact["phone_numbers"]] == ["+1 555 0100"]
    assert contact["street_addresses"][0]["city"] == "Arlington"
    assert "203.0.113.9" in contact["notes"][0]["content"]


def test_no_consent_and_no_permission_to_create_leaves_nothing_behind(cc: WiredEngine) -> None:
    result = cc.upsert(signup("noconsent@example.com", Consent.NONE))
    assert result.outcome is Outcome.REJECTED
    assert "consent" in (result.reason or "")
    assert cc.sandbox.contact_by_email("noconsent@example.com") is None


# --- existing active contacts ------------------------------------------------------------------------------


def seed_rich_contact(cc: WiredEngine, email: str) -> str:
    cc.sandbox.seed_custom_field("Favourite colour")
    return cc.sandbox.seed_contact(
        email,
        first_name="Ada",
        last_name="Lovelace",
        job_title="Analyst",
        company_name="Engines Ltd",
        birthday_month=12,
        birthday_day=10,
        phone_numbers=[{"phone_number": "+44 20 7946 0001", "kind": "work"}],
        street_addresses=[{"kind": "home", "street": "12 St James's Sq", "city": "London", "country": "UK"}],
        custom_fields={"Favourite colour": "blue"},
        lists=["Events"],
        permission_to_send="implicit",
    )


def test_put_preserves_everything_the_form_did_not_send(cc: WiredEngine) -> None:
    # Given a contact with job title, phone, address, birthday, a custom field and another list
    contact_id = seed_rich_contact(cc, "ada@example.com")
    before = cc.stored("ada@example.com")
    # When an implicit sign-up sends only a new first name, an empty job title and the News list
    result = cc.upsert(signup("ADA@example.com", first_name="Augusta", job_title=""))
    # Then the contact is updated: the name changed, every other value kept, lists a union
    assert result.outcome is Outcome.UPDATED
    assert result.contact_id == contact_id
    assert result.calls == 3  # cold list lookup, GET with status=all, merged PUT
    after = cc.stored("ada@example.com")
    assert after["first_name"] == "Augusta"
    for kept in ("last_name", "job_title", "company_name", "birthday_month", "birthday_day", "custom_fields"):
        assert after[kept] == before[kept], kept
    assert [p["phone_number"] for p in after["phone_numbers"]] == ["+44 20 7946 0001"]
    assert after["street_addresses"][0]["city"] == "London"
    assert sorted(after["list_memberships"]) == sorted([cc.events, cc.news])
    assert after["email_address"]["permission_to_send"] == "implicit"
    assert after["update_source"] == "Contact"


def test_existing_active_contact_with_explicit_consent_goes_through_sign_up_form(cc: WiredEngine) -> None:
    # Given an implicit contact on Events
    seed_rich_contact(cc, "ada@example.com")
    # When an explicit sign-up for News arrives
    result = cc.upsert(signup("ada@example.com", Consent.EXPLICIT))
    # Then it is updated, explicit now, on both lists, other data kept
    assert result.outcome is Outcome.UPDATED
    after = cc.stored("ada@example.com")
    assert after["email_address"]["permission_to_send"] == "explicit"
    assert sorted(after["list_memberships"]) == sorted([cc.events, cc.news])
    assert after["job_title"] == "Analyst"


# --- deleted contacts ----------------------------------------------------------------------------------


def test_deleted_contact_the_409_trap_ends_revived_and_on_the_list(cc: WiredEngine) -> None:
    # Given a contact deleted in the UI
    contact_id = cc.sandbox.seed_contact("gone@example.com", first_name="Gone", lists=["Events"])
    cc.sandbox.delete_contact(contact_id)
    client = engine.get_upserter().client
    # Then the default search shows nothing and a plain POST is refused with 409 (the trap)
    assert client.find_contacts_by_email("gone@example.com", status=None) == []
    with pytest.raises(ConflictError):
        client.create_contact(
            {
                "email_address": {"address": "gone@example.com", "permission_to_send": "implicit"},
                "create_source": "Contact",
                "list_memberships": [cc.news],
            }
        )
    # When the engine upserts an implicit sign-up for that address
    result = cc.upsert(signup("gone@example.com"))
    # Then the same contact is revived (update_source Account) and on the list, its name kept
    assert result.outcome is Outcome.REVIVED
    assert result.contact_id == contact_id
    contact = cc.stored("gone@example.com")
    assert "deleted_at" not in contact
    assert contact["list_memberships"] == [cc.news]
    assert contact["update_source"] == "Account"
    assert contact["first_name"] == "Gone"


def test_deleted_contact_with_explicit_consent_is_revived_by_sign_up_form(cc: WiredEngine) -> None:
    contact_id = cc.sandbox.seed_contact("gone@example.com", lists=["Events"])
    cc.sandbox.delete_contact(contact_id)
    result = cc.upsert(signup("gone@example.com", Consent.EXPLICIT))
    assert result.outcome is Outcome.REVIVED
    contact = cc.stored("gone@example.com")
    assert "deleted_at" not in contact
    assert contact["list_memberships"] == [cc.news]
    assert contact["email_address"]["permission_to_send"] == "explicit"


def test_deleted_and_unsubscribed_contact_is_not_revived_without_explicit_consent(cc: WiredEngine) -> None:
    contact_id = cc.sandbox.seed_contact("both@example.com", lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    cc.sandbox.delete_contact(contact_id)
    result = cc.upsert(signup("both@example.com"))
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    contact = cc.stored("both@example.com")
    assert "deleted_at" in contact
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"


# --- unsubscribed contacts -----------------------------------------------------------------------------


def test_unsubscribed_contact_without_explicit_consent_is_never_silently_resubscribed(cc: WiredEngine) -> None:
    # Given a contact who unsubscribed themselves
    contact_id = cc.sandbox.seed_contact("left@example.com", job_title="Analyst", lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    before = cc.stored("left@example.com")
    # When an implicit sign-up with a new job title arrives
    result = cc.upsert(signup("left@example.com", job_title="Engineer"))
    # Then the profile is updated but permission, lists and the permission history are untouched
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    after = cc.stored("left@example.com")
    assert after["job_title"] == "Engineer"
    assert after["email_address"]["permission_to_send"] == "unsubscribed"
    assert after["list_memberships"] == before["list_memberships"]
    assert permission_changes(cc.sandbox, after) == permission_changes(cc.sandbox, before)
    assert "explicit" not in permission_changes(cc.sandbox, after)


def test_unsubscribed_contact_gets_the_resubscribe_email_once_when_the_route_enables_it(cc: WiredEngine) -> None:
    contact_id = cc.sandbox.seed_contact("left@example.com", lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    options = UpsertOptions(send_resubscribe_email=True)
    first = cc.upsert(signup("left@example.com", options=options))
    second = cc.upsert(signup("left@example.com", options=options))
    assert first.outcome is second.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "already sent" in (second.reason or "")
    resubscribes = [r for r in cc.sandbox.request_log if r["path"].startswith("/v3/contacts/resubscribe/")]
    assert [r["status"] for r in resubscribes] == [200, 409]
    assert cc.stored("left@example.com")["email_address"]["permission_to_send"] == "unsubscribed"


def test_unsubscribed_contact_with_explicit_consent_is_resubscribed(cc: WiredEngine) -> None:
    # Given a contact who unsubscribed
    contact_id = cc.sandbox.seed_contact("back@example.com", lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    # When they tick the consent box on this form
    result = cc.upsert(signup("back@example.com", Consent.EXPLICIT))
    # Then they are explicit again through sign_up_form, the history says so, and they are on the list
    assert result.outcome is Outcome.RESUBSCRIBED
    contact = cc.stored("back@example.com")
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert permission_changes(cc.sandbox, contact)[-2:] == ["unsubscribed", "explicit"]
    assert cc.news in contact["list_memberships"]


def test_a_replayed_explicit_sign_up_older_than_the_opt_out_leaves_the_contact_unsubscribed(cc: WiredEngine) -> None:
    # Given a person who subscribed with explicit consent, then unsubscribed themselves
    earlier = signup("replayed@example.com", Consent.EXPLICIT, first_name="Ada", submitted_at=utc_now())
    assert cc.upsert(earlier).outcome is Outcome.CREATED
    contact_id = cc.stored("replayed@example.com")["contact_id"]
    cc.sandbox.unsubscribe_contact(contact_id)
    before = cc.stored("replayed@example.com")
    # When that earlier submission arrives again (a captured delivery, a late DLQ replay)
    result = cc.upsert(earlier)
    # Then they stay unsubscribed: no sign_up_form, no resubscribe email, the permission history unchanged
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "newer than this submission" in (result.reason or "")
    after = cc.stored("replayed@example.com")
    assert after["email_address"]["permission_to_send"] == "unsubscribed"
    assert after["email_address"]["opt_out_date"] == before["email_address"]["opt_out_date"]
    assert permission_changes(cc.sandbox, after) == ["explicit", "unsubscribed"]
    assert cc.sandbox.resubscribe_request(contact_id) is None
    assert [r["path"] for r in cc.sandbox.request_log].count("/v3/contacts/sign_up_form") == 1


def test_an_explicit_sign_up_made_after_the_opt_out_resubscribes(cc: WiredEngine) -> None:
    # Given a person who subscribed, then unsubscribed themselves
    assert cc.upsert(signup("again@example.com", Consent.EXPLICIT, submitted_at=utc_now())).outcome is Outcome.CREATED
    contact_id = cc.stored("again@example.com")["contact_id"]
    cc.sandbox.unsubscribe_contact(contact_id)
    # When they submit the form again, with explicit consent, after unsubscribing
    result = cc.upsert(signup("again@example.com", Consent.EXPLICIT, submitted_at=utc_now()))
    # Then they are resubscribed
    assert result.outcome is Outcome.RESUBSCRIBED
    contact = cc.stored("again@example.com")
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert permission_changes(cc.sandbox, contact) == ["explicit", "unsubscribed", "explicit"]


def test_public_form_asks_an_unsubscribed_contact_to_confirm_by_email(cc: WiredEngine) -> None:
    # Given a public form's route, and a contact on Events who unsubscribed themselves
    options = UpsertOptions(confirm_resubscribe_by_email=True)
    contact_id = cc.sandbox.seed_contact("public@example.com", lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    # When someone ticks the consent box with that address, twice
    first = cc.upsert(signup("public@example.com", Consent.EXPLICIT, options=options, submitted_at=utc_now()))
    second = cc.upsert(signup("public@example.com", Consent.EXPLICIT, options=options, submitted_at=utc_now()))
    # Then no sign_up_form: Constant Contact's one-time confirmation email is sent once, for News, and the contact
    # stays unsubscribed
    assert first.outcome is second.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "sent the one-time resubscribe confirmation email" in (first.reason or "")
    assert "resubscribe email already sent" in (second.reason or "")
    assert "/v3/contacts/sign_up_form" not in [r["path"] for r in cc.sandbox.request_log]
    request = cc.sandbox.resubscribe_request(contact_id)
    assert request is not None and request["list_ids"] == [cc.news]
    assert cc.stored("public@example.com")["email_address"]["permission_to_send"] == "unsubscribed"
    # And only when the person clicks the email are they back, on News
    cc.sandbox.confirm_resubscribe(contact_id)
    contact = cc.stored("public@example.com")
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert cc.news in contact["list_memberships"]


def test_public_form_still_subscribes_a_new_address_through_sign_up_form(cc: WiredEngine) -> None:
    options = UpsertOptions(confirm_resubscribe_by_email=True)
    result = cc.upsert(signup("fresh@example.com", Consent.EXPLICIT, options=options, submitted_at=utc_now()))
    assert result.outcome is Outcome.CREATED
    assert cc.stored("fresh@example.com")["email_address"]["permission_to_send"] == "explicit"


# --- long addresses ---------------------------------------------------------------------------------------


def test_email_of_51_to_80_characters_is_created_explicit_without_sign_up_form(cc: WiredEngine) -> None:
    result = cc.upsert(signup(LONG_EMAIL, Consent.EXPLICIT))
    assert result.outcome is Outcome.CREATED
    contact = cc.stored(LONG_EMAIL)
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["create_source"] == "Contact"
    assert contact["list_memberships"] == [cc.news]
    assert not [r for r in cc.sandbox.request_log if r["path"] == "/v3/contacts/sign_up_form"]


def test_long_email_unsubscribed_contact_gets_the_confirmation_email_and_stays_unsubscribed(cc: WiredEngine) -> None:
    contact_id = cc.sandbox.seed_contact(LONG_EMAIL, lists=["Events"])
    cc.sandbox.unsubscribe_contact(contact_id)
    result = cc.upsert(signup(LONG_EMAIL, Consent.EXPLICIT))
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "resubscribe" in (result.reason or "")
    contact = cc.stored(LONG_EMAIL)
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert "explicit" not in permission_changes(cc.sandbox, contact)


def test_long_email_deleted_contact_with_explicit_consent_is_revived_by_put(cc: WiredEngine) -> None:
    # Given a deleted contact with a 67-character address
    contact_id = cc.sandbox.seed_contact(LONG_EMAIL, job_title="Analyst", lists=["Events"])
    cc.sandbox.delete_contact(contact_id)
    # When they sign up again with explicit consent
    result = cc.upsert(signup(LONG_EMAIL, Consent.EXPLICIT))
    # Then the merged PUT revived them (update_source Account), explicit, on the list, job title kept
    assert result.outcome is Outcome.REVIVED
    contact = cc.stored(LONG_EMAIL)
    assert "deleted_at" not in contact
    assert contact["update_source"] == "Account"
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["list_memberships"] == [cc.news]
    assert contact["job_title"] == "Analyst"


def test_consent_note_and_tags_on_the_sign_up_form_path_when_the_route_asks(cc: WiredEngine) -> None:
    # Given a route that wants the consent note even on the sign_up_form path
    options = UpsertOptions(consent_note_on_sign_up_form=True)
    # When an explicit sign-up with a tag arrives
    result = cc.upsert(signup("noted@example.com", Consent.EXPLICIT, tags=("vip",), options=options))
    # Then the contact carries the evidence note and the tag, written by one GET + merged PUT after sign_up_form
    assert result.outcome is Outcome.CREATED
    contact = cc.stored("noted@example.com")
    assert "203.0.113.9" in contact["notes"][0]["content"]
    assert len(contact["taggings"]) == 1
    assert contact["email_address"]["permission_to_send"] == "explicit"


def test_tags_after_sign_up_form_arrive_through_the_taggings_activity(cc: WiredEngine) -> None:
    vip = cc.sandbox.seed_tag("vip")
    result = cc.upsert(signup("tagged@example.com", Consent.EXPLICIT, tags=("vip",)))
    assert result.outcome is Outcome.CREATED
    assert [r["path"] for r in cc.sandbox.request_log][-1] == "/v3/activities/contacts_taggings_add"
    assert cc.stored("tagged@example.com")["taggings"] == [vip]


def test_bulk_json_import_and_its_activity_status(cc: WiredEngine) -> None:
    # Given an unsubscribed contact, and the client the engine uses
    cc.sandbox.seed_contact("gone@example.com", lists=["Events"], permission_to_send="unsubscribed")
    client = engine.get_upserter().client
    # When two rows are imported onto News, one of them the unsubscribed contact
    rows = [{"email": "bulk@example.com", "first_name": "Bulk"}, {"email": "gone@example.com"}]
    activity = client.import_contacts_json(rows, [cc.news])
    # Then the activity's status can be followed to completion
    status = client.get_activity(activity["activity_id"])
    assert status["state"] == "completed", status
    assert status["status"]["cannot_add_to_list_count"] == 1
    # And the new contact is implicit on News, while the unsubscribed one stays off the list
    new = cc.stored("bulk@example.com")
    assert new["email_address"]["permission_to_send"] == "implicit" and new["list_memberships"] == [cc.news]
    assert cc.stored("gone@example.com")["list_memberships"] == [cc.events]


# --- names ----------------------------------------------------------------------------------------------


def test_unknown_list_is_rejected_and_nothing_is_written(cc: WiredEngine) -> None:
    result = cc.upsert(signup("who@example.com", lists=("News", "No Such List")))
    assert result.outcome is Outcome.REJECTED
    assert "'No Such List'" in (result.reason or "")
    assert cc.sandbox.contact_by_email("who@example.com") is None


def test_missing_list_is_created_when_the_route_allows_it_and_names_are_cached(cc: WiredEngine) -> None:
    options = UpsertOptions(create_missing_lists=True)
    first = cc.upsert(signup("one@example.com", lists=("Brand New",), options=options))
    second = cc.upsert(signup("two@example.com", lists=("Brand New",), options=options, tags=("vip",)))
    assert first.outcome is second.outcome is Outcome.CREATED
    assert cc.stored("one@example.com")["list_memberships"] == cc.stored("two@example.com")["list_memberships"]
    list_reads = [r for r in cc.sandbox.request_log if r["path"] == "/v3/contact_lists" and r["method"] == "GET"]
    assert len(list_reads) == 1
    assert len(cc.stored("two@example.com")["taggings"]) == 1


# --- tokens, limits, faults ---------------------------------------------------------------------------


def test_expired_access_token_mid_run_costs_exactly_one_refresh(cc: WiredEngine) -> None:
    # Given a warm engine
    assert cc.upsert(signup("first@example.com")).outcome is Outcome.CREATED
    old = cc.secret()
    # When every access token expires and two more sign-ups arrive
    cc.sandbox.expire_access_tokens()
    second = cc.upsert(signup("second@example.com"))
    third = cc.upsert(signup("third@example.com"))
    # Then both succeed after exactly one refresh, and the new pair is stored in Secrets Manager
    assert second.outcome is third.outcome is Outcome.CREATED
    assert len(cc.sandbox.token_requests) == 1
    assert cc.sandbox.refresh_count == 1
    new = cc.secret()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert cc.sandbox.contact_by_email("third@example.com") is not None


class RefreshFunctionStandIn:
    """`lambda:Invoke` of TokenRefreshFunction: stores a fresh grant as the function would, without HTTP."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.calls: list[dict[str, Any]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        self.calls.append({"FunctionName": FunctionName, "InvocationType": InvocationType, **json.loads(Payload)})
        seed_oauth_secret(self.sandbox, SECRET_ID)
        return {"StatusCode": 200, "Payload": io.BytesIO(b'{"mode": "on_demand", "action": "refreshed"}')}


def test_upsert_never_calls_the_token_endpoint_when_a_refresh_function_is_set(
    cc: WiredEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given upsert wired as deployed (TOKEN_REFRESH_FUNCTION set), warm, and then every access token expired
    function = RefreshFunctionStandIn(cc.sandbox)
    monkeypatch.setenv("TOKEN_REFRESH_FUNCTION", "signup-relay-TokenRefreshFunction")
    monkeypatch.setattr(refreshers, "get_lambda_client", lru_cache(maxsize=1)(lambda: function))
    reset_relay_caches()
    assert cc.upsert(signup("first@example.com")).outcome is Outcome.CREATED
    cc.sandbox.clear_request_log()
    cc.sandbox.expire_access_tokens()
    # When the next sign-up meets a 401
    result = cc.upsert(signup("second@example.com"))
    # Then it succeeded after one synchronous invoke of the function
    assert result.outcome is Outcome.CREATED
    assert [(c["FunctionName"], c["InvocationType"]) for c in function.calls] == [
        ("signup-relay-TokenRefreshFunction", "RequestResponse")
    ]
    # And upsert itself never reached the token endpoint: only the API saw requests, one of them the 401
    log = cc.sandbox.request_log
    assert [entry for entry in log if not entry["path"].startswith("/v3/")] == []
    assert any(entry["status"] == 401 for entry in log)
    assert cc.sandbox.token_requests == []


def test_a_single_server_error_is_absorbed_inside_the_attempt(cc: WiredEngine) -> None:
    # Given the contacts endpoint failing once with 503
    cc.sandbox.inject_faults(status=503, count=1, path_prefix="/v3/contacts")
    # When the sign-up is upserted, Then the call is sent again and the contact is created in this attempt
    assert cc.upsert(signup("once@example.com")).outcome is Outcome.CREATED
    assert cc.stored("once@example.com")["list_memberships"] == [cc.news]


def test_server_errors_that_last_are_transient_and_a_retry_succeeds(cc: WiredEngine) -> None:
    # Given the contacts endpoint failing with 503 more often than the client resends
    cc.sandbox.inject_faults(status=503, count=1 + SERVER_RETRIES, path_prefix="/v3/contacts")
    # When the sign-up is upserted, Then it fails transiently and nothing is stored
    with pytest.raises(ServerError):
        cc.upsert(signup("retry@example.com"))
    assert cc.sandbox.contact_by_email("retry@example.com") is None
    # When SQS redelivers it, Then it is created
    assert cc.upsert(signup("retry@example.com")).outcome is Outcome.CREATED
    assert cc.stored("retry@example.com")["list_memberships"] == [cc.news]


def test_sign_up_form_concurrent_write_409_is_transient_and_a_retry_succeeds(cc: WiredEngine) -> None:
    # Given sign_up_form answering its "simultaneous requests" 409 once
    cc.sandbox.inject_faults(status=409, count=1, path_prefix="/v3/contacts/sign_up_form")
    # When an explicit sign-up is upserted, Then it is a transient conflict
    with pytest.raises(ConflictError):
        cc.upsert(signup("race@example.com", Consent.EXPLICIT))
    # When it is redelivered, Then it is created
    assert cc.upsert(signup("race@example.com", Consent.EXPLICIT)).outcome is Outcome.CREATED
    assert cc.stored("race@example.com")["email_address"]["permission_to_send"] == "explicit"


@pytest.fixture
def cc_throttled_unpaced(cc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[WiredEngine]:
    """The engine without its own pacing against a sandbox enforcing 4 requests/s: it will be throttled."""
    yield from _wire(cc_sandbox, monkeypatch, requests_per_second=0)


def test_throttled_429_backs_off_and_every_sign_up_still_lands(cc_throttled_unpaced: WiredEngine) -> None:
    cc = cc_throttled_unpaced
    # When six sign-ups (12 calls) are sent as fast as possible at a 4 requests/s limit
    results = [cc.upsert(signup(f"burst{i}@example.com")) for i in range(6)]
    # Then the sandbox throttled some calls, the engine backed off, and every contact was created
    assert any(r["status"] == 429 for r in cc.sandbox.request_log)
    assert all(r.outcome is Outcome.CREATED for r in results)
    assert all(cc.sandbox.contact_by_email(f"burst{i}@example.com") for i in range(6))


@pytest.fixture
def cc_paced(cc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[WiredEngine]:
    yield from _wire(cc_sandbox, monkeypatch, requests_per_second=4)


def test_pacing_keeps_one_container_under_the_limit(cc_paced: WiredEngine) -> None:
    # When five sign-ups run through an engine paced at 4 requests/s against a 4 requests/s sandbox
    results = [cc_paced.upsert(signup(f"paced{i}@example.com")) for i in range(5)]
    # Then no call was throttled
    assert all(r.outcome is Outcome.CREATED for r in results)
    assert [r for r in cc_paced.sandbox.request_log if r["status"] == 429] == []


def test_an_explicit_sign_up_with_a_new_phone_keeps_every_stored_phone_and_its_kind(cc: WiredEngine) -> None:
    # Given a contact holding the most phones a contact can have, one of each kind
    stored_phones = [
        {"phone_number": "+1 555 0000", "kind": "home"},
        {"phone_number": "+1 555 0001", "kind": "work"},
        {"phone_number": "+1 555 0002", "kind": "mobile"},
    ]
    contact_id = cc.sandbox.seed_contact("phones@example.com", phone_numbers=stored_phones, lists=["News"])
    # When an explicit sign-up (sign_up_form) brings a new home phone
    result = cc.upsert(signup("phones@example.com", Consent.EXPLICIT, phone="+1 555 0009", phone_kind="home"))
    # Then the new number replaced the home phone by its kind; the work and mobile phones are kept
    assert (result.outcome, result.contact_id) == (Outcome.UPDATED, contact_id)
    after = cc.stored("phones@example.com")
    assert sorted((p["kind"], p["phone_number"]) for p in after["phone_numbers"]) == [
        ("home", "+1 555 0009"),
        ("mobile", "+1 555 0002"),
        ("work", "+1 555 0001"),
    ]
    assert after["email_address"]["permission_to_send"] == "explicit"
    assert after["list_memberships"] == [cc.news]
    # And the phone went by the merged PUT, not sign_up_form: cold list lookup, GET, sign_up_form, GET, PUT
    assert result.calls == 5


def test_an_explicit_sign_up_with_a_phone_already_stored_costs_no_extra_call(cc: WiredEngine) -> None:
    # Given a contact whose phone the sign-up sends again
    cc.sandbox.seed_contact("same@example.com", phone_numbers=[{"phone_number": "+1 555 0100", "kind": "work"}])
    # When an explicit sign-up arrives with that phone, Then sign_up_form alone writes it (list lookup, GET, form)
    result = cc.upsert(signup("same@example.com", Consent.EXPLICIT, phone="+1 555 0100"))
    assert (result.outcome, result.calls) == (Outcome.UPDATED, 3)
    assert [(p["kind"], p["phone_number"]) for p in cc.stored("same@example.com")["phone_numbers"]] == [
        ("work", "+1 555 0100")
    ]
