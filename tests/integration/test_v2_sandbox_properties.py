"""Property-based, end to end on V2: for any prior state x consent, what the sandbox stores after a V2 upsert keeps
the promises of docs/architecture.md §10, and the outcome tells the truth about the change.

Each example seeds a fresh address in one shared sandbox (module-scoped, moto and the engine wired once: a V2
account whose secret names the account's V3 app), runs the real engine over HTTP, and compares the stored record
before and after, through V3 (permission, deletion, lists) and through V2 (its own properties):
- nobody who had unsubscribed is subscribed again without explicit consent on this form;
- no stored non-empty field becomes empty (V2's full-overwrite PUT), unless the sign-up names it in clear_fields:
  core fields, phones, addresses, V2 custom fields, `prefix_name` and `fax`, the birthday V2 cannot see;
- list memberships only grow, except that a contact still unsubscribed keeps exactly the lists it had;
- the outcome matches the change.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.models import Address, Outcome, Signup
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
from tests.v2_account import seed_v2_secret

V3_ACCOUNT = "signup-relay/constant-contact"
V2_ACCOUNT = f"{V3_ACCOUNT}/legacy"
LISTS = ("News", "Events", "Archive")
V2_FIELDS = ("CustomField1", "CustomField2", "CustomField3")
CORE_TEXT = ("first_name", "last_name", "job_title", "company_name")
V2_KEPT = ("prefix_name", "fax", "home_phone", "work_phone", "cell_phone")
PRIORS = ("none", "active", "removed", "deleted", "self_unsubscribed", "deleted_unsubscribed")
_serial = itertools.count()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rate_limit_per_second=0) as cc, mock_aws(), pytest.MonkeyPatch.context() as env:
        seed_oauth_secret(cc, V3_ACCOUNT)
        seed_v2_secret(cc, V2_ACCOUNT, cc_secret_id=V3_ACCOUNT, v3_account=V3_ACCOUNT)
        point_engine_at(cc, env, V3_ACCOUNT, v2=True, rate_limit_per_second=0)
        for name in LISTS:
            cc.seed_list(name)
        yield cc
        reset_relay_caches()


# --- strategies ---------------------------------------------------------------------------------------

phones = st.from_regex(r"\+1 555 0[0-9]{3}", fullmatch=True)


@st.composite
def prior_fields(draw: st.DrawFn) -> dict[str, Any]:
    """The stored contact: any subset of core fields, phones, a home address, a birthday, V2-only properties."""
    fields: dict[str, Any] = {name: draw(names) for name in CORE_TEXT if draw(st.booleans())}
    kinds = draw(st.lists(st.sampled_from(["home", "work", "mobile"]), unique=True, max_size=3))
    if kinds:
        fields["phone_numbers"] = [{"phone_number": draw(phones), "kind": kind} for kind in kinds]
    if draw(st.booleans()):
        fields["street_addresses"] = [{"kind": "home", "street": draw(names), "city": draw(names)}]
    if draw(st.booleans()):
        fields["birthday_month"], fields["birthday_day"] = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    v2: dict[str, Any] = {}
    custom = draw(st.dictionaries(st.sampled_from(V2_FIELDS), names, max_size=2))
    if custom:
        v2["custom_fields"] = [{"name": name, "value": value} for name, value in custom.items()]
    for name in ("prefix_name", "fax"):
        if draw(st.booleans()):
            v2[name] = draw(names)[:10]
    if v2:
        fields["v2"] = v2
    return fields


@st.composite
def signup_fields(draw: st.DrawFn) -> dict[str, Any]:
    """What a form sends: any subset of fields, blanks included, any clear_fields."""
    fields: dict[str, Any] = {name: draw(values) for name in CORE_TEXT}
    fields["phone"] = draw(st.none() | st.just("") | phones)
    fields["phone_kind"] = draw(st.sampled_from(["home", "work", "mobile"]))
    if draw(st.booleans()):
        fields["address"] = Address(kind=draw(st.sampled_from(["home", "work"])), city=draw(names))
    fields["lists"] = tuple(draw(st.lists(st.sampled_from(LISTS[:2]), unique=True, min_size=1, max_size=2)))
    fields["clear_fields"] = tuple(draw(st.lists(st.sampled_from(CORE_TEXT), unique=True, max_size=2)))
    fields["custom_fields"] = draw(
        st.dictionaries(st.sampled_from(V2_FIELDS), st.sampled_from(["", " ", "gold"]), max_size=2)
    )
    return fields


def fresh_email() -> str:
    return f"v2p{next(_serial):05d}@example.com"


def seed_prior(sandbox: Sandbox, email: str, prior: str, fields: dict[str, Any]) -> None:
    if prior == "none":
        return
    lists = [] if prior == "removed" else ["Archive"]
    extra: dict[str, Any] = {}
    if prior.endswith("unsubscribed"):
        extra = {"permission_to_send": "unsubscribed", "opt_out_source": "Contact"}
    sandbox.seed_contact(email, lists=lists, **fields, **extra, deleted=prior.startswith("deleted"))


def views(sandbox: Sandbox, email: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The contact through V3 and through V2 (None when there is none)."""
    contact = sandbox.contact_by_email(email)
    if contact is None:
        return None, None
    return contact, sandbox.v2_contact(sandbox.v2_contact_id(contact["contact_id"]))


def expected_outcome(before: dict[str, Any] | None, after: dict[str, Any] | None) -> Outcome:
    if before is None:
        return Outcome.CREATED if after is not None else Outcome.REJECTED
    assert after is not None, "a stored contact disappeared"
    if permission(before) == "unsubscribed":
        return Outcome.RESUBSCRIBED if permission(after) == "explicit" else Outcome.KEPT_UNSUBSCRIBED
    if before.get("deleted_at") or not before["list_memberships"]:
        return Outcome.REVIVED if not after.get("deleted_at") and after["list_memberships"] else Outcome.REJECTED
    return Outcome.UPDATED


@pytest.mark.parametrize("consent_name", sorted(CONSENTS))
@pytest.mark.parametrize("prior", PRIORS)
@settings(max_examples=10, deadline=None)
@given(before_fields=prior_fields(), sent=signup_fields())
def test_v2_upsert_keeps_its_promises_whatever_the_prior_state(
    sandbox: Sandbox, prior: str, consent_name: str, before_fields: dict[str, Any], sent: dict[str, Any]
) -> None:
    # Given a fresh address in any prior state
    email = fresh_email()
    seed_prior(sandbox, email, prior, before_fields)
    before, before_v2 = views(sandbox, email)
    consent, allow_create = CONSENTS[consent_name]
    signup = Signup(
        email=email,
        consent=consent,
        consent_evidence=EVIDENCE,
        options=UpsertOptions(allow_create_without_consent=allow_create),
        source="tally",
        route="legacy",
        account=V2_ACCOUNT,
        **sent,
    )

    # When the V2 engine upserts it
    result = engine.get_upserter(V2_ACCOUNT).upsert(signup)

    # Then what the sandbox stores keeps the promises
    after, after_v2 = views(sandbox, email)
    event(f"{prior} x {consent_name} -> {result.outcome.value}")
    note = f"prior={prior} consent={consent_name} outcome={result.outcome} ({result.reason})"
    if permission(before) == "unsubscribed" and consent is not Consent.EXPLICIT:
        assert permission(after) == "unsubscribed", note
    # a contact is only ever made explicit by explicit consent on this form
    if consent is not Consent.EXPLICIT and after is not None and permission(before) != "explicit":
        assert permission(after) != "explicit", note
    if before is not None:
        assert after is not None and after_v2 is not None and before_v2 is not None, note
        assert_fields_kept(before, after, (*CORE_TEXT, "birthday_month", "birthday_day"), signup.clear_fields, note)
        revived = before.get("deleted_at") and not after.get("deleted_at")
        if not revived:  # revived through V3 (docs/architecture.md §10): V3's rules decide what it keeps
            assert_fields_kept(before_v2, after_v2, V2_KEPT, (), note)
            assert {f["name"] for f in after_v2["custom_fields"]} >= {f["name"] for f in before_v2["custom_fields"]}
            assert {a["address_type"] for a in after_v2["addresses"]} >= {
                a["address_type"] for a in before_v2["addresses"]
            }, note
        assert_lists_kept(before, after, note)
    assert result.outcome is expected_outcome(before, after), note
    if result.outcome is Outcome.REJECTED:
        assert after == before, note
    else:
        assert after is not None and after_v2 is not None, note
        assert result.contact_id in (after["contact_id"], after_v2["id"]), note
