"""Which calls the upsert policy makes for each prior state and consent, with a recording client.

The table is docs/architecture.md §2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from signup_relay.constant_contact.names import Resolution
from signup_relay.errors import ConflictError
from signup_relay.models import ConsentEvidence, Outcome, Signup
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert.policy import upsert_contact
from tests.unit.recording_client import CONTACT_ID, RecordingV3Client

LIST_ID = "list-0000-0000-0000-0000-000000000001"
TAG_ID = "tag-0000-0000-0000-0000-000000000001"
LONG_EMAIL = "a-rather-long-local-part-for-testing-purposes@subdomain.example.com"  # 67 characters


class StaticNames:
    """Resolves only the names it was given."""

    def __init__(self, lists: Mapping[str, str], fields: Mapping[str, str] = {}, tags: Mapping[str, str] = {}):
        self._maps = {"lists": dict(lists), "fields": dict(fields), "tags": dict(tags)}

    def _resolve(self, kind: str, names: Iterable[str]) -> Resolution:
        names = list(names)
        table = self._maps[kind]
        return Resolution(
            ids={n: table[n] for n in names if n in table}, missing=tuple(n for n in names if n not in table)
        )

    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._resolve("lists", names)

    def resolve_custom_field_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._resolve("fields", names)

    def resolve_tag_ids(self, names: Iterable[str], *, create_missing: bool = True) -> Resolution:
        return self._resolve("tags", names)


NAMES = StaticNames({"News": LIST_ID}, tags={"vip": TAG_ID})


def stored(
    permission: str = "implicit", *, deleted: bool = False, email: str = "ada@example.com", **extra: Any
) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "contact_id": CONTACT_ID,
        "email_address": {"address": email, "permission_to_send": permission},
        "first_name": "Ada",
        "job_title": "Analyst",
        "list_memberships": [] if deleted else ["other-list"],
        **extra,
    }
    if deleted:
        contact["deleted_at"] = "2026-01-05"
    return contact


def signup(consent: Consent = Consent.IMPLICIT, email: str = "ada@example.com", **fields: Any) -> Signup:
    values: dict[str, Any] = {"email": email, "first_name": "Ada", "lists": ("News",), "consent": consent}
    values.update(fields)
    return Signup(**values)


def test_new_contact_with_explicit_consent_is_one_lookup_and_one_sign_up_form() -> None:
    # Given nobody with that address
    client = RecordingV3Client(None)
    # When an explicit sign-up arrives
    result = upsert_contact(signup(Consent.EXPLICIT), client=client, names=NAMES)
    # Then it is created through sign_up_form in two calls
    assert result.outcome is Outcome.CREATED
    assert client.operations == ["find", "sign_up_form"]
    assert result.calls == 2
    assert result.contact_id == CONTACT_ID


def test_unsubscribed_contact_with_explicit_consent_is_resubscribed_by_sign_up_form() -> None:
    client = RecordingV3Client(stored("unsubscribed"))
    result = upsert_contact(signup(Consent.EXPLICIT), client=client, names=NAMES)
    assert result.outcome is Outcome.RESUBSCRIBED
    assert client.operations == ["find", "sign_up_form"]


def test_deleted_contact_with_explicit_consent_is_revived_by_sign_up_form() -> None:
    client = RecordingV3Client(stored(deleted=True))
    result = upsert_contact(signup(Consent.EXPLICIT), client=client, names=NAMES)
    assert result.outcome is Outcome.REVIVED


def test_tags_follow_sign_up_form_as_one_taggings_activity_unless_already_there() -> None:
    # Given one contact without the tag and one that has it
    untagged = RecordingV3Client(stored())
    tagged = RecordingV3Client(stored(taggings=[TAG_ID]))
    # When explicit sign-ups with that tag arrive
    upsert_contact(signup(Consent.EXPLICIT, tags=("vip",)), client=untagged, names=NAMES)
    upsert_contact(signup(Consent.EXPLICIT, tags=("vip",)), client=tagged, names=NAMES)
    # Then only the untagged contact costs the activity call
    assert untagged.operations == ["find", "sign_up_form", "taggings_add"]
    assert untagged.payload("taggings_add") == {"contact_ids": [CONTACT_ID], "tag_ids": [TAG_ID]}
    assert tagged.operations == ["find", "sign_up_form"]


def test_consent_note_on_the_sign_up_form_path_only_when_the_route_asks() -> None:
    # Given consent evidence and a route that wants the note even on the sign_up_form path
    evidence = ConsentEvidence(at=datetime(2026, 11, 26, tzinfo=UTC), source="tally")
    options = UpsertOptions(consent_note_on_sign_up_form=True)
    client = RecordingV3Client(stored())
    # When the explicit sign-up is upserted
    upsert_contact(signup(Consent.EXPLICIT, consent_evidence=evidence, options=options), client=client, names=NAMES)
    # Then a GET + merged PUT carries the note
    assert client.operations == ["find", "sign_up_form", "get", "update"]
    assert "tally" in client.payload("update")["notes"][0]["content"]


def test_sign_up_form_concurrent_write_409_is_transient() -> None:
    client = RecordingV3Client(stored(), conflict_on={"sign_up_form"})
    with pytest.raises(ConflictError):
        upsert_contact(signup(Consent.EXPLICIT), client=client, names=NAMES)


def test_new_contact_without_explicit_consent_is_posted_implicit_from_the_contact() -> None:
    client = RecordingV3Client(None)
    result = upsert_contact(signup(Consent.IMPLICIT), client=client, names=NAMES)
    assert result.outcome is Outcome.CREATED
    assert client.operations == ["find", "create"]
    body = client.payload("create")
    assert body["create_source"] == "Contact"
    assert body["email_address"]["permission_to_send"] == "implicit"


def test_no_consent_creates_nobody_unless_the_route_allows_it() -> None:
    # Given a sign-up without consent for an unknown address
    refused = RecordingV3Client(None)
    allowed = RecordingV3Client(None)
    # When the route does not / does allow creating without consent
    no = upsert_contact(signup(Consent.NONE), client=refused, names=NAMES)
    yes = upsert_contact(
        signup(Consent.NONE, options=UpsertOptions(allow_create_without_consent=True)), client=allowed, names=NAMES
    )
    # Then it is rejected with a reason after the lookup only, or created
    assert no.outcome is Outcome.REJECTED
    assert "consent" in (no.reason or "")
    assert refused.operations == ["find"]
    assert yes.outcome is Outcome.CREATED


def test_active_contact_gets_a_merged_put_keeping_its_permission() -> None:
    client = RecordingV3Client(stored())
    result = upsert_contact(signup(Consent.IMPLICIT, last_name="Lovelace"), client=client, names=NAMES)
    assert result.outcome is Outcome.UPDATED
    body = client.payload("update")
    assert body["job_title"] == "Analyst"
    assert body["email_address"]["permission_to_send"] == "implicit"
    assert body["update_source"] == "Contact"
    assert body["list_memberships"] == ["other-list", LIST_ID]


def test_deleted_contact_is_revived_with_update_source_account_and_lists() -> None:
    client = RecordingV3Client(stored(deleted=True))
    result = upsert_contact(signup(Consent.IMPLICIT), client=client, names=NAMES)
    assert result.outcome is Outcome.REVIVED
    body = client.payload("update")
    assert body["update_source"] == "Account"
    assert body["list_memberships"] == [LIST_ID]


def test_post_409_is_resolved_by_looking_up_again_never_by_parsing_the_message() -> None:
    # Given a lookup that misses (a race) and a POST that answers 409, then a lookup that finds a deleted contact
    client = RecordingV3Client(None, stored(deleted=True), conflict_on={"create"})
    # When the implicit sign-up is upserted
    result = upsert_contact(signup(Consent.IMPLICIT), client=client, names=NAMES)
    # Then the contact is revived with a merged PUT
    assert client.operations == ["find", "create", "find", "update"]
    assert result.outcome is Outcome.REVIVED
    assert result.calls == 4


def test_a_lookup_row_for_another_address_is_never_updated() -> None:
    # Given a lookup that answers with someone else's contact (a fuzzy match)
    client = RecordingV3Client(stored(email="grace@example.com"))
    # When Ada's implicit sign-up is upserted
    result = upsert_contact(signup(Consent.IMPLICIT), client=client, names=NAMES)
    # Then Grace's contact is left alone and Ada's is created
    assert client.operations == ["find", "create"]
    assert client.payload("create")["email_address"]["address"] == "ada@example.com"
    assert result.outcome is Outcome.CREATED


def test_unsubscribed_contact_without_consent_keeps_permission_and_lists() -> None:
    # Given an unsubscribed contact
    client = RecordingV3Client(stored("unsubscribed"))
    # When an implicit sign-up arrives
    result = upsert_contact(signup(Consent.IMPLICIT, job_title="Engineer"), client=client, names=NAMES)
    # Then only the profile is updated: permission as it was, no list_memberships sent, no resubscribe
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    body = client.payload("update")
    assert body["email_address"]["permission_to_send"] == "unsubscribed"
    assert "list_memberships" not in body
    assert body["job_title"] == "Engineer"
    assert "resubscribe" not in client.operations


def test_unsubscribed_contact_gets_one_resubscribe_email_when_the_route_enables_it() -> None:
    # Given a route that sends the resubscribe email, and one contact that already got it (409)
    options = UpsertOptions(send_resubscribe_email=True)
    first = RecordingV3Client(stored("unsubscribed"))
    already = RecordingV3Client(stored("unsubscribed"), conflict_on={"resubscribe"})
    # When implicit sign-ups arrive
    sent = upsert_contact(signup(Consent.IMPLICIT, options=options), client=first, names=NAMES)
    again = upsert_contact(signup(Consent.IMPLICIT, options=options), client=already, names=NAMES)
    # Then both stay unsubscribed; the 409 "already sent" is not an error
    assert first.operations == ["find", "update", "resubscribe"]
    assert sent.outcome is again.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "already sent" in (again.reason or "")


def test_deleted_and_unsubscribed_contact_is_not_revived_without_explicit_consent() -> None:
    client = RecordingV3Client(stored("unsubscribed", deleted=True))
    result = upsert_contact(signup(Consent.IMPLICIT), client=client, names=NAMES)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find"]


def test_long_email_with_explicit_consent_is_posted_explicit() -> None:
    client = RecordingV3Client(None)
    result = upsert_contact(signup(Consent.EXPLICIT, email=LONG_EMAIL), client=client, names=NAMES)
    assert result.outcome is Outcome.CREATED
    assert client.operations == ["find", "create"]
    assert client.payload("create")["email_address"] == {"address": LONG_EMAIL, "permission_to_send": "explicit"}


def test_long_email_active_contact_with_explicit_consent_becomes_explicit_by_put() -> None:
    client = RecordingV3Client(stored(email=LONG_EMAIL))
    result = upsert_contact(signup(Consent.EXPLICIT, email=LONG_EMAIL), client=client, names=NAMES)
    assert result.outcome is Outcome.UPDATED
    assert client.payload("update")["email_address"]["permission_to_send"] == "explicit"


def test_long_email_unsubscribed_contact_gets_the_resubscribe_email_not_a_silent_opt_in() -> None:
    client = RecordingV3Client(stored("unsubscribed", email=LONG_EMAIL))
    result = upsert_contact(signup(Consent.EXPLICIT, email=LONG_EMAIL), client=client, names=NAMES)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "update", "resubscribe"]
    assert client.payload("update")["email_address"]["permission_to_send"] == "unsubscribed"
    assert "50 characters" in (result.reason or "")


def test_a_sign_up_on_no_list_is_rejected_before_any_call() -> None:
    client = RecordingV3Client(None)
    result = upsert_contact(signup(lists=()), client=client, names=NAMES)
    assert result.outcome is Outcome.REJECTED
    assert "no list" in (result.reason or "")
    assert client.calls == []


def test_an_unknown_list_is_rejected_with_its_name() -> None:
    client = RecordingV3Client(None)
    result = upsert_contact(signup(lists=("News", "Nope")), client=client, names=NAMES)
    assert result.outcome is Outcome.REJECTED
    assert "'Nope'" in (result.reason or "")
    assert client.calls == []


def test_an_address_over_80_characters_is_rejected() -> None:
    result = upsert_contact(signup(email="x" * 75 + "@example.com"), client=RecordingV3Client(None), names=NAMES)
    assert result.outcome is Outcome.REJECTED


# --- an opt-out newer than the submission (a late redelivery or DLQ replay) -----------------------------

SUBMITTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
OPTED_OUT_AFTER = "2026-03-01T09:05:00.000Z"
OPTED_OUT_BEFORE = "2026-03-01T08:55:00.000Z"


def opted_out(at: str, *, deleted: bool = False, email: str = "ada@example.com") -> dict[str, Any]:
    contact = stored("unsubscribed", deleted=deleted, email=email)
    contact["email_address"] |= {"opt_out_source": "Contact", "opt_out_date": at}
    return contact


def test_explicit_consent_older_than_the_opt_out_never_resubscribes() -> None:
    # Given a contact who unsubscribed five minutes after this explicit sign-up was submitted
    client = RecordingV3Client(opted_out(OPTED_OUT_AFTER))
    # When the sign-up arrives late (a redelivery, a replay)
    result = upsert_contact(
        signup(Consent.EXPLICIT, job_title="Engineer", submitted_at=SUBMITTED), client=client, names=NAMES
    )
    # Then no sign_up_form and no resubscribe email: only the profile, permission and lists as the contact left them
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "update"]
    body = client.payload("update")
    assert body["email_address"]["permission_to_send"] == "unsubscribed"
    assert "list_memberships" not in body
    assert body["job_title"] == "Engineer"
    assert "the opt-out (2026-03-01T09:05:00Z) is newer than this submission (2026-03-01T09:00:00Z)" in (
        result.reason or ""
    )


def test_explicit_consent_newer_than_the_opt_out_resubscribes() -> None:
    client = RecordingV3Client(opted_out(OPTED_OUT_BEFORE))
    result = upsert_contact(signup(Consent.EXPLICIT, submitted_at=SUBMITTED), client=client, names=NAMES)
    assert result.outcome is Outcome.RESUBSCRIBED
    assert client.operations == ["find", "sign_up_form"]


@pytest.mark.parametrize(
    ("consent", "email", "options"),
    [
        (Consent.IMPLICIT, "ada@example.com", UpsertOptions(send_resubscribe_email=True)),
        (Consent.EXPLICIT, LONG_EMAIL, UpsertOptions()),
    ],
    ids=["route-sends-resubscribe-email", "long-email-explicit"],
)
def test_an_opt_out_newer_than_the_submission_gets_no_resubscribe_email(
    consent: Consent, email: str, options: UpsertOptions
) -> None:
    client = RecordingV3Client(opted_out(OPTED_OUT_AFTER, email=email))
    result = upsert_contact(
        signup(consent, email=email, options=options, submitted_at=SUBMITTED), client=client, names=NAMES
    )
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "update"]


def test_a_deleted_contact_whose_opt_out_is_newer_is_left_untouched() -> None:
    client = RecordingV3Client(opted_out(OPTED_OUT_AFTER, deleted=True))
    result = upsert_contact(signup(Consent.EXPLICIT, submitted_at=SUBMITTED), client=client, names=NAMES)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find"]
    assert "newer than this submission" in (result.reason or "")


def test_an_opt_out_at_the_very_time_of_the_submission_stands() -> None:
    client = RecordingV3Client(opted_out("2026-03-01T09:00:00.000Z"))
    result = upsert_contact(signup(Consent.EXPLICIT, submitted_at=SUBMITTED), client=client, names=NAMES)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED


def test_the_409_path_checks_the_opt_out_of_the_contact_found_on_the_second_lookup() -> None:
    # Given a lookup that misses, a POST that answers 409, then an unsubscribed contact whose opt-out is newer
    client = RecordingV3Client(None, opted_out(OPTED_OUT_AFTER, email=LONG_EMAIL), conflict_on={"create"})
    # When a long-address explicit sign-up (POST, not sign_up_form) is upserted
    result = upsert_contact(
        signup(Consent.EXPLICIT, email=LONG_EMAIL, submitted_at=SUBMITTED), client=client, names=NAMES
    )
    # Then the second lookup's contact keeps its opt-out: no resubscribe email
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "create", "find", "update"]
    assert "newer than this submission" in (result.reason or "")


def test_without_an_opt_out_date_the_consent_decides_as_before() -> None:
    # Given an unsubscribed contact the API shows without opt_out_date (nothing to compare)
    client = RecordingV3Client(stored("unsubscribed"))
    result = upsert_contact(signup(Consent.EXPLICIT, submitted_at=SUBMITTED), client=client, names=NAMES)
    assert result.outcome is Outcome.RESUBSCRIBED


# --- public forms: confirm a re-subscription by email ---------------------------------------------------

CONFIRM = UpsertOptions(confirm_resubscribe_by_email=True)


def test_public_form_sends_the_confirmation_email_instead_of_resubscribing() -> None:
    # Given a route that confirms re-subscriptions by email, and a contact who unsubscribed before this sign-up
    client = RecordingV3Client(opted_out(OPTED_OUT_BEFORE))
    # When they tick the consent box
    result = upsert_contact(
        signup(Consent.EXPLICIT, options=CONFIRM, submitted_at=SUBMITTED), client=client, names=NAMES
    )
    # Then the profile is recorded and the one-time confirmation email sent for the sign-up's lists; no sign_up_form
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "update", "resubscribe"]
    assert client.payload("update")["email_address"]["permission_to_send"] == "unsubscribed"
    assert client.payload("resubscribe") == [LIST_ID]
    assert "sent the one-time resubscribe confirmation email" in (result.reason or "")


def test_public_form_deleted_and_unsubscribed_contact_gets_only_the_email() -> None:
    client = RecordingV3Client(stored("unsubscribed", deleted=True))
    result = upsert_contact(signup(Consent.EXPLICIT, options=CONFIRM), client=client, names=NAMES)
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "resubscribe"]


@pytest.mark.parametrize(
    ("existing", "outcome"), [(None, Outcome.CREATED), (stored(), Outcome.UPDATED)], ids=["new", "active"]
)
def test_public_form_still_uses_sign_up_form_for_everyone_else(
    existing: dict[str, Any] | None, outcome: Outcome
) -> None:
    client = RecordingV3Client(existing)
    result = upsert_contact(signup(Consent.EXPLICIT, options=CONFIRM), client=client, names=NAMES)
    assert result.outcome is outcome
    assert client.operations == ["find", "sign_up_form"]


def test_public_form_sends_no_email_when_the_opt_out_is_newer_than_the_sign_up() -> None:
    client = RecordingV3Client(opted_out(OPTED_OUT_AFTER))
    result = upsert_contact(
        signup(Consent.EXPLICIT, options=CONFIRM, submitted_at=SUBMITTED), client=client, names=NAMES
    )
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert client.operations == ["find", "update"]
