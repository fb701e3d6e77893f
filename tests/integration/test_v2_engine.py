"""The V2 upsert end to end: moto Secrets Manager for the V2 account, the sandbox's V2 API over real HTTP.

The V3 case list again on V2 (docs/architecture.md §10). Every test asserts what the sandbox stored afterwards
(seen through V3 and V2: one record), not only what the engine returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.errors import ReauthorizationRequiredError
from signup_relay.models import Address, ConsentEvidence, Outcome, Signup
from signup_relay.routes import Consent, Route, parse_routes
from signup_relay.upsert import wiring as engine
from tests import signups
from tests.engine_support import WiredEngine
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at
from tests.v2_account import seed_v2_secret

V3_ACCOUNT = "signup-relay/constant-contact"
LEGACY = f"{V3_ACCOUNT}/legacy"  # a V2 account with no V3 app
LEGACY_WITH_V3 = f"{V3_ACCOUNT}/legacy-v3"  # the same account, with `v3_account` for contacts deleted in the UI
EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="tally", form="Newsletter")


@pytest.fixture
def v2(cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[WiredEngine]:
    """A V2 account (and the same account's V3 app under CC_SECRET_ID) against a sandbox without the per-second
    limit (these tests are not about pacing)."""
    sandbox = cc_sandbox_unthrottled
    with mock_aws():
        seed_oauth_secret(sandbox, V3_ACCOUNT)
        seed_v2_secret(sandbox, LEGACY, cc_secret_id=V3_ACCOUNT)
        seed_v2_secret(sandbox, LEGACY_WITH_V3, cc_secret_id=V3_ACCOUNT, v3_account=V3_ACCOUNT)
        point_engine_at(sandbox, monkeypatch, V3_ACCOUNT, v2=True, rate_limit_per_second=0)
        yield WiredEngine(sandbox, V3_ACCOUNT)
        reset_relay_caches()


def signup(email: str, consent: Consent = Consent.IMPLICIT, **fields: Any) -> Signup:
    """A sign-up for the V2 account (evidence without an IP), submitted now."""
    legacy = {"consent_evidence": EVIDENCE, "route": "legacy", "account": LEGACY, "submitted_at": datetime.now(UTC)}
    return signups.signup(email, consent, **(legacy | fields))


# --- new -----------------------------------------------------------------------------------------------


def test_a_new_address_is_created_by_the_visitor_on_the_list(v2: WiredEngine) -> None:
    # Given nobody with that address, and a V2 account (chosen by its secret: the sign-up names no api)
    # When an explicit sign-up with a phone, an address and a V2 custom field arrives
    result = v2.upsert(
        signup(
            "new@example.com",
            Consent.EXPLICIT,
            first_name="Grace",
            phone="+1 555 0100",
            address=Address(kind="work", city="Arlington", state="VA", country="US"),
            custom_fields={"CustomField3": "blue"},
        )
    )
    # Then it is created by lookup + POST (+ the cold list lookup), explicit, from the contact, on the list
    assert (result.outcome, result.calls) == (Outcome.CREATED, 3)
    contact = v2.stored("new@example.com")
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert contact["create_source"] == "Contact"
    assert contact["list_memberships"] == [v2.news]
    assert contact["first_name"] == "Grace"
    # ... with the V2 shapes stored: the cell phone, the BUSINESS address, the custom field, the consent note
    seen = v2.v2_view("new@example.com")
    assert result.contact_id == seen["id"]
    assert seen["cell_phone"] == "+1 555 0100"
    assert [(a["address_type"], a["city"], a["state_code"]) for a in seen["addresses"]] == [
        ("BUSINESS", "Arlington", "VA")
    ]
    assert seen["custom_fields"] == [{"name": "CustomField3", "value": "blue"}]
    assert seen["notes"][0]["note"].startswith("Consent (explicit) at 2026-11-26T09:30:00Z")
    assert v2.writes() == ["POST /v2/contacts"]


def test_a_second_sign_up_costs_two_calls_and_implicit_consent_is_not_made_explicit(v2: WiredEngine) -> None:
    v2.upsert(signup("first@example.com"))
    assert v2.upsert(signup("second@example.com")).calls == 2
    # implicit consent: posted by the account (ACTION_BY_OWNER), so V3 sees implicit, never explicit
    assert v2.stored("second@example.com")["email_address"]["permission_to_send"] == "implicit"


# --- existing, rich profile ------------------------------------------------------------------------------


def test_an_existing_rich_profile_loses_nothing_to_the_put(v2: WiredEngine) -> None:
    # Given a contact with every kind of data, some of it only V2 can see
    contact_id = v2.sandbox.seed_contact(
        "rich@example.com",
        first_name="Ada",
        last_name="Lovelace",
        job_title="Analyst",
        company_name="Engines",
        phone_numbers=[{"phone_number": "+44 20 0000 0001", "kind": "home"}],
        street_addresses=[{"kind": "home", "street": "1 Analytical St", "city": "London", "postal_code": "N1"}],
        birthday_month=12,
        birthday_day=10,
        notes=[{"content": "met at the conference", "created_at": "2026-01-02T00:00:00Z"}],
        lists=["Events"],
        v2={"custom_fields": [{"name": "CustomField1", "value": "blue"}], "prefix_name": "Dr.", "fax": "+44 1"},
    )
    before = v2.sandbox.v2_contact(v2.sandbox.v2_contact_id(contact_id))
    # When a sign-up carrying only a new last name, a work phone and a second custom field arrives
    result = v2.upsert(
        signup(
            "rich@example.com",
            last_name="King",
            phone="+44 20 0000 0002",
            phone_kind="work",
            custom_fields={"CustomField2": "tea"},
        )
    )
    # Then it is updated in lookup + PUT, and every field it did not carry is still stored
    assert result.outcome is Outcome.UPDATED
    after = v2.v2_view("rich@example.com")
    assert after["last_name"] == "King"
    assert after["work_phone"] == "+44 20 0000 0002"
    for name in ("first_name", "job_title", "company_name", "home_phone", "prefix_name", "fax", "addresses"):
        assert after.get(name) == before.get(name), name
    assert [n["note"] for n in after["notes"]] == ["met at the conference"]  # V2 keeps one note: the stored one
    assert after["custom_fields"] == [
        {"name": "CustomField1", "value": "blue"},
        {"name": "CustomField2", "value": "tea"},
    ]
    # ... its lists are a union, and what V2 cannot see (the birthday) is untouched
    stored = v2.stored("rich@example.com")
    assert set(stored["list_memberships"]) == {v2.events, v2.news}
    assert (stored["birthday_month"], stored["birthday_day"]) == (12, 10)
    assert stored["email_address"]["permission_to_send"] == "implicit"


# --- removed (on no list) ----------------------------------------------------------------------------------


def test_a_removed_contact_comes_back_on_the_routes_lists(v2: WiredEngine) -> None:
    # Given a contact on no list (V2: REMOVED)
    v2.sandbox.seed_contact("removed@example.com", first_name="Rem")
    assert v2.v2_view("removed@example.com")["status"] == "REMOVED"
    # When a sign-up arrives
    result = v2.upsert(signup("removed@example.com"))
    # Then it is revived onto the route's list, profile kept
    assert result.outcome is Outcome.REVIVED
    seen = v2.v2_view("removed@example.com")
    assert seen["status"] == "ACTIVE" and seen["first_name"] == "Rem"
    assert v2.stored("removed@example.com")["list_memberships"] == [v2.news]


# --- deleted in the UI: the 409 trap ---------------------------------------------------------------------


def test_a_contact_deleted_in_the_ui_without_a_v3_app_is_rejected_with_what_to_do(v2: WiredEngine) -> None:
    # Given a contact deleted in the UI (V2's lookup cannot see it; V2's POST answers 409)
    contact_id = v2.sandbox.seed_contact("gone@example.com", first_name="Gone", lists=["Events"])
    v2.sandbox.delete_contact(contact_id)
    # When a sign-up arrives for a V2 account with no V3 app
    result = v2.upsert(signup("gone@example.com"))
    # Then it is rejected (to the DLQ) with a reason a person can act on, after lookup, POST, lookup (+ the cold
    # list lookup)
    assert (result.outcome, result.calls) == (Outcome.REJECTED, 4)
    assert "deleted in the Constant Contact UI" in (result.reason or "")
    assert "v3_account" in (result.reason or "")
    # ... and nothing was written
    assert "deleted_at" in v2.sandbox.contact(contact_id)  # type: ignore[operator]


def test_a_contact_deleted_in_the_ui_is_revived_through_the_v3_app(v2: WiredEngine) -> None:
    # Given the same trap, and the V2 account's secret naming the account's V3 app
    contact_id = v2.sandbox.seed_contact("gone@example.com", first_name="Gone", job_title="Pilot", lists=["Events"])
    v2.sandbox.delete_contact(contact_id)
    # When a sign-up arrives
    result = v2.upsert(signup("gone@example.com", account=LEGACY_WITH_V3, last_name="Back"))
    # Then V3's policy revives it (not deleted, on the route's list: a deleted contact lost its lists; profile kept)
    assert result.outcome is Outcome.REVIVED
    assert (result.reason or "").startswith("V2 POST answered 409")
    stored = v2.stored("gone@example.com")
    assert "deleted_at" not in stored
    assert stored["list_memberships"] == [v2.news]
    assert (stored["first_name"], stored["last_name"], stored["job_title"]) == ("Gone", "Back", "Pilot")
    # V2 lists, lookup, POST (409), lookup; then V3 lists, lookup, PUT
    assert result.calls == 7


def test_the_v2_custom_fields_of_a_contact_revived_through_v3_are_written_through_v2(v2: WiredEngine) -> None:
    # Given the trap, and a sign-up carrying a V2 custom field (V3 has no such field)
    contact_id = v2.sandbox.seed_contact("gone@example.com", first_name="Gone", lists=["Events"])
    v2.sandbox.delete_contact(contact_id)
    # When it arrives / Then V3 revives the contact and V2, which sees it again, writes the custom field
    result = v2.upsert(signup("gone@example.com", account=LEGACY_WITH_V3, custom_fields={"CustomField4": "comet"}))
    assert result.outcome is Outcome.REVIVED
    assert "its V2 custom fields through V2" in (result.reason or "")
    seen = v2.v2_view("gone@example.com")
    assert seen["custom_fields"] == [{"name": "CustomField4", "value": "comet"}]
    assert (seen["status"], seen["first_name"]) == ("ACTIVE", "Gone")
    assert result.calls == 9  # the 7 above, then V2 lookup + PUT


def test_without_consent_a_contact_v2_cannot_see_is_looked_up_through_v3(v2: WiredEngine) -> None:
    # Given a contact deleted in the UI, and a sign-up that may not create a contact (consent none)
    contact_id = v2.sandbox.seed_contact("quiet@example.com", first_name="Quiet", lists=["Events"])
    v2.sandbox.delete_contact(contact_id)
    quiet = signup("quiet@example.com", Consent.NONE, account=LEGACY_WITH_V3)
    # When it arrives / Then V3's lookup finds the contact and its policy revives it (consent none on an existing
    # contact follows the implicit column), instead of a rejection that says no such contact exists
    result = v2.upsert(quiet)
    assert result.outcome is Outcome.REVIVED
    assert "deleted_at" not in v2.stored("quiet@example.com")
    assert "POST /v2/contacts" not in v2.writes()
    # ... and an address nobody holds is still rejected for want of consent, nothing created
    nobody = v2.upsert(signup("nobody@example.com", Consent.NONE, account=LEGACY_WITH_V3))
    assert nobody.outcome is Outcome.REJECTED and "no consent captured" in (nobody.reason or "")
    assert v2.sandbox.contact_by_email("nobody@example.com") is None


# --- opted out ------------------------------------------------------------------------------------------


def test_an_opted_out_contact_without_explicit_consent_is_kept_and_not_written(v2: WiredEngine) -> None:
    contact_id = v2.sandbox.seed_contact("left@example.com", lists=["Events"], permission_to_send="unsubscribed")
    result = v2.upsert(signup("left@example.com", first_name="New"))
    assert (result.outcome, result.calls) == (Outcome.KEPT_UNSUBSCRIBED, 2)  # lists + lookup
    stored = v2.sandbox.contact(contact_id) or {}
    assert stored["email_address"]["permission_to_send"] == "unsubscribed"
    assert v2.writes() == []


def test_explicit_consent_on_this_form_brings_an_opted_out_contact_back(v2: WiredEngine) -> None:
    contact_id = v2.sandbox.seed_contact(
        "back@example.com", first_name="Keep", lists=["Events"], permission_to_send="unsubscribed"
    )
    result = v2.upsert(signup("back@example.com", Consent.EXPLICIT))
    assert result.outcome is Outcome.RESUBSCRIBED
    stored = v2.sandbox.contact(contact_id) or {}
    assert stored["email_address"]["permission_to_send"] == "explicit"
    assert set(stored["list_memberships"]) == {v2.events, v2.news}
    assert stored["first_name"] == "Keep"


def test_an_opt_out_newer_than_the_submission_stands(v2: WiredEngine) -> None:
    # Given a sign-up submitted an hour ago, and the person opted out since
    contact_id = v2.sandbox.seed_contact("late@example.com", lists=["Events"], permission_to_send="unsubscribed")
    old = signup("late@example.com", Consent.EXPLICIT, submitted_at=datetime.now(UTC) - timedelta(hours=1))
    # When the old sign-up is processed (a replay) / Then the opt-out stands, nothing written
    result = v2.upsert(old)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED and "newer than this submission" in (result.reason or "")
    assert (v2.sandbox.contact(contact_id) or {})["email_address"]["permission_to_send"] == "unsubscribed"
    assert v2.writes() == []


# --- unknown list ------------------------------------------------------------------------------------------


def test_an_unknown_list_is_rejected_naming_it_and_nothing_is_created(v2: WiredEngine) -> None:
    result = v2.upsert(signup("who@example.com", lists=("Nope",)))
    assert result.outcome is Outcome.REJECTED and "'Nope'" in (result.reason or "")
    assert v2.sandbox.contact_by_email("who@example.com") is None


def v2_route(**options: Any) -> Route:
    """A routes-file route on the V2 account with `api: v2` and the given upsert options."""
    body = {"source": "generic", "consent": "implicit", "account": LEGACY, "api": "v2", "lists": ["Fresh"], **options}
    return parse_routes({"routes": {"legacy": body}}).get("legacy")


def test_a_v2_route_creating_missing_lists_creates_the_list_and_puts_the_contact_on_it(v2: WiredEngine) -> None:
    # Given a V2 route with create_missing_lists, and a list the account does not have
    route = v2_route(create_missing_lists=True)
    assert v2.sandbox.list_id("Fresh") is None
    # When a sign-up of that route is upserted
    result = engine.get_upserter(LEGACY, route.api).upsert(
        signup("fresh@example.com", lists=route.lists, options=route.options)
    )
    # Then V2 created the list, then the contact on it
    assert result.outcome is Outcome.CREATED
    assert v2.writes() == ["POST /v2/lists", "POST /v2/contacts"]
    # ... one list, the one V3 sees, with the contact on it through V3 and V2 alike
    fresh = v2.sandbox.list_id("Fresh")
    assert fresh is not None
    assert v2.stored("fresh@example.com")["list_memberships"] == [fresh]
    assert [x["id"] for x in v2.v2_view("fresh@example.com")["lists"]] == [v2.sandbox.v2_list_id(fresh)]
    # ... and the next sign-up finds it, creating no second one
    again = engine.get_upserter(LEGACY, route.api).upsert(
        signup("again@example.com", lists=route.lists, options=route.options)
    )
    assert again.outcome is Outcome.CREATED
    assert v2.writes().count("POST /v2/lists") == 1
    assert v2.stored("again@example.com")["list_memberships"] == [fresh]


def test_a_v2_route_without_create_missing_lists_rejects_an_unknown_list_naming_it(v2: WiredEngine) -> None:
    route = v2_route()
    result = engine.get_upserter(LEGACY, route.api).upsert(
        signup("fresh@example.com", lists=route.lists, options=route.options)
    )
    assert result.outcome is Outcome.REJECTED and "'Fresh'" in (result.reason or "")
    assert v2.sandbox.contact_by_email("fresh@example.com") is None
    assert v2.sandbox.list_id("Fresh") is None
    assert v2.writes() == []


# --- the route chooses V2 ------------------------------------------------------------------------------------


def test_a_route_with_api_v2_uses_v2_for_the_account_it_names(v2: WiredEngine) -> None:
    upserter = engine.get_upserter(LEGACY, "v2")
    assert isinstance(upserter, engine.V2AccountUpserter)
    assert isinstance(engine.get_upserter(V3_ACCOUNT), engine.AccountUpserter)


# --- tokens -------------------------------------------------------------------------------------------------


def test_a_revoked_token_is_final_with_the_command_to_run(v2: WiredEngine) -> None:
    # Given the account's V2 token was revoked
    v2.sandbox.revoke_v2_token()
    v2.sandbox.clear_request_log()
    # When a sign-up is upserted / Then it fails for good, naming the fix, after one call (no retry storm)
    with pytest.raises(ReauthorizationRequiredError, match=f"--api v2 --secret-id {LEGACY}"):
        v2.upsert(signup("any@example.com"))
    assert len(v2.sandbox.request_log) == 1


def test_a_pair_replaced_by_connect_is_used_after_the_401(v2: WiredEngine) -> None:
    # Given the container read the pair, then the token was revoked and `connect --api v2` stored another app's pair
    v2.upsert(signup("first@example.com"))
    old_token = v2.sandbox.v2_access_token
    api_key, new_token = v2.sandbox.add_v2_api_key()
    v2.sandbox.revoke_v2_token(old_token)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=LEGACY,
        SecretString=f'{{"api": "v2", "api_key": "{api_key}", "access_token": "{new_token}", "connected_at": 1}}',
    )
    # When the next sign-up comes (within the container's one-minute secret cache) / Then the 401's re-read finds
    # the new pair, and the resend carries the new key too
    assert v2.upsert(signup("second@example.com")).outcome is Outcome.CREATED
    assert 401 in [r["status"] for r in v2.sandbox.request_log]
    assert v2.stored("second@example.com")["list_memberships"] == [v2.news]
