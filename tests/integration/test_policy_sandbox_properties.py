"""Property-based, end to end: for any prior state x consent x address length, what the sandbox stores afterwards
keeps the product's promises, and the reported outcome tells the truth about the change.

Each example seeds a fresh address in one shared sandbox (module-scoped, with moto and the engine wired once),
runs the real engine over HTTP, and compares the stored record before and after:
- nobody who had unsubscribed is subscribed again without explicit consent on this form (permission history);
- no stored non-empty core field becomes empty unless the sign-up names it in clear_fields;
- list memberships only grow, except that a contact still unsubscribed keeps exactly the lists it had;
- the outcome matches the change: created / revived / resubscribed / kept_unsubscribed / updated / rejected.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.models import Outcome, Signup
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert import wiring as engine
from tests.oauth_secret import seed_oauth_secret
from tests.property_support import (
    CONSENTS,
    EVIDENCE,
    assert_fields_kept,
    assert_lists_kept,
    names,
    permission,
    values,
)
from tests.sandbox_fixtures import point_engine_at

SECRET_ID = "signup-relay/constant-contact"
LISTS = ("News", "Events", "Archive")
FIELDS = ("Colour", "Tier")
TAGS = ("vip", "donor")
CORE_TEXT = ("first_name", "last_name", "job_title", "company_name", "anniversary")
PRIORS = ("none", "active", "deleted", "self_unsubscribed", "account_unsubscribed", "deleted_unsubscribed")
SUBSCRIBED = {"explicit", "implicit", "pending_confirmation", "not_set", "temp_hold"}
_serial = itertools.count()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox, one moto account and one engine wiring for every example (each uses fresh addresses)."""
    with Sandbox(rate_limit_per_second=0) as cc, mock_aws(), pytest.MonkeyPatch.context() as env:
        seed_oauth_secret(cc, SECRET_ID)
        point_engine_at(cc, env, SECRET_ID, rate_limit_per_second=0)
        for name in LISTS:
            cc.seed_list(name)
        for label in FIELDS:
            cc.seed_custom_field(label)
        for tag in TAGS:
            cc.seed_tag(tag)
        yield cc
        reset_relay_caches()


# --- strategies ---------------------------------------------------------------------------------------

anniversaries = st.dates(min_value=datetime(1960, 1, 1).date(), max_value=datetime(2025, 12, 31).date()).map(
    lambda d: d.isoformat()
)


@st.composite
def prior_fields(draw: st.DrawFn) -> dict[str, Any]:
    """The stored contact's profile: any subset of core fields, any of the lists."""
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name", "job_title", "company_name"):
        if draw(st.booleans()):
            fields[name] = draw(names)
    if draw(st.booleans()):
        fields["anniversary"] = draw(anniversaries)
    if draw(st.booleans()):
        fields["birthday_month"], fields["birthday_day"] = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    fields["lists"] = draw(st.lists(st.sampled_from(LISTS), unique=True, max_size=3))
    fields["permission_to_send"] = draw(st.sampled_from(sorted(SUBSCRIBED)))  # unless the prior state unsubscribes
    fields["custom_fields"] = draw(st.dictionaries(st.sampled_from(FIELDS), names, max_size=2))
    fields["tags"] = draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))
    return fields


@st.composite
def signup_fields(draw: st.DrawFn) -> dict[str, Any]:
    """What a form sends: any subset of fields, blanks included, any clear_fields."""
    return {
        "first_name": draw(values),
        "last_name": draw(values),
        "job_title": draw(values),
        "company_name": draw(values),
        "anniversary": draw(st.none() | st.just("") | anniversaries),
        "phone": draw(st.none() | st.just("") | st.from_regex(r"\+1 555 0[0-9]{3}", fullmatch=True)),
        "lists": tuple(draw(st.lists(st.sampled_from(LISTS[:2]), unique=True, min_size=1, max_size=2))),
        "clear_fields": tuple(draw(st.lists(st.sampled_from(CORE_TEXT), unique=True, max_size=2))),
        "custom_fields": draw(st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(["", " ", "gold"]), max_size=2)),
        "tags": tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))),
    }


def fresh_email(length: int) -> str:
    """A never-used address of exactly `length` characters (16..80)."""
    head = f"p{next(_serial):05d}"
    domain = "@example.com"
    return head + "x" * (length - len(head) - len(domain)) + domain


# --- seeding and reading ------------------------------------------------------------------------------


def seed_prior(sandbox: Sandbox, email: str, prior: str, fields: dict[str, Any]) -> None:
    if prior == "none":
        return
    extra: dict[str, Any] = {}
    if prior in ("self_unsubscribed", "deleted_unsubscribed"):
        extra = {"permission_to_send": "unsubscribed", "opt_out_source": "Contact"}
    elif prior == "account_unsubscribed":
        extra = {"permission_to_send": "unsubscribed", "opt_out_source": "Account"}
    sandbox.seed_contact(email, **(fields | extra), deleted=prior.startswith("deleted"))


def deleted(contact: dict[str, Any] | None) -> bool:
    return contact is not None and bool(contact.get("deleted_at"))


def expected_outcome(before: dict[str, Any] | None, after: dict[str, Any] | None) -> Outcome:
    """The outcome the stored change calls for."""
    if before is None:
        return Outcome.CREATED if after is not None else Outcome.REJECTED
    assert after is not None, "a stored contact disappeared"
    if permission(before) == "unsubscribed":
        return Outcome.RESUBSCRIBED if permission(after) == "explicit" else Outcome.KEPT_UNSUBSCRIBED
    if deleted(before):
        return Outcome.REVIVED if not deleted(after) else Outcome.REJECTED
    return Outcome.UPDATED if after != before else Outcome.REJECTED


# --- the property -------------------------------------------------------------------------------------


# Every cell of prior state x consent runs, each with 25 random examples (address length, profile, options).
@pytest.mark.parametrize("consent_name", sorted(CONSENTS))
@pytest.mark.parametrize("prior", PRIORS)
@settings(max_examples=25, deadline=None)
@given(
    email_length=st.integers(16, 50) | st.integers(51, 80),
    before_fields=prior_fields(),
    sent=signup_fields(),
    email_case=st.sampled_from(["lower", "upper", "title"]),
    send_resubscribe_email=st.booleans(),
    consent_note_on_sign_up_form=st.booleans(),
)
def test_upsert_keeps_its_promises_whatever_the_prior_state(
    sandbox: Sandbox,
    prior: str,
    consent_name: str,
    email_length: int,
    before_fields: dict[str, Any],
    sent: dict[str, Any],
    email_case: str,
    send_resubscribe_email: bool,
    consent_note_on_sign_up_form: bool,
) -> None:
    # Given a fresh address in any prior state
    email = fresh_email(email_length)
    seed_prior(sandbox, email, prior, before_fields)
    before = sandbox.contact_by_email(email)
    history_before = len(sandbox.permission_history(before["contact_id"])) if before else 0
    consent, allow_create = CONSENTS[consent_name]
    signup = Signup(
        email=f" {getattr(email, email_case)()} ",  # as typed: any case, stray spaces
        consent=consent,
        consent_evidence=EVIDENCE,
        options=UpsertOptions(
            allow_create_without_consent=allow_create,
            send_resubscribe_email=send_resubscribe_email,
            consent_note_on_sign_up_form=consent_note_on_sign_up_form,
        ),
        source="tally",
        route="newsletter",
        **sent,
    )

    # When the engine upserts the sign-up
    result = engine.get_upserter().upsert(signup)

    # Then what the sandbox stores keeps the promises
    after = sandbox.contact_by_email(email)
    length = "long" if email_length > 50 else "short"
    event(f"{prior} x {consent_name} x {length} -> {result.outcome.value}")
    note = f"prior={prior} consent={consent_name} length={email_length} outcome={result.outcome} ({result.reason})"
    if after is not None:
        assert after["email_address"]["address"].lower() == email.lower(), note
        changes = sandbox.permission_history(after["contact_id"])[history_before:]
        # nobody who had unsubscribed is subscribed again without explicit consent on this form
        if permission(before) == "unsubscribed" and consent is not Consent.EXPLICIT:
            assert permission(after) == "unsubscribed", note
            assert all(change["to"] == "unsubscribed" for change in changes), note
        # a contact is only ever moved to explicit by explicit consent
        if consent is not Consent.EXPLICIT:
            assert all(change["to"] != "explicit" for change in changes), note
    if before is not None:
        assert after is not None, note
        # no stored non-empty core field became empty, unless the form named it in clear_fields
        assert_fields_kept(before, after, (*CORE_TEXT, "birthday_month", "birthday_day"), signup.clear_fields, note)
        # custom field values and tags are never dropped
        assert {f["custom_field_id"] for f in after["custom_fields"]} >= {
            f["custom_field_id"] for f in before["custom_fields"]
        }, note
        assert set(after["taggings"]) >= set(before["taggings"]), note
        # lists only grow; a contact still unsubscribed keeps exactly the lists it had
        assert_lists_kept(before, after, note)
    # the reported outcome is the stored change
    assert result.outcome is expected_outcome(before, after), note
    if result.outcome is Outcome.REJECTED:
        assert after == before, note
    else:
        assert result.contact_id == (after or {}).get("contact_id"), note
