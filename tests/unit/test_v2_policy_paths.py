"""Which V2 calls the V2 policy makes for each prior status and consent, with a recording client.

The table is docs/architecture.md §10; the stored results are asserted against the sandbox in
tests/integration/test_v2_engine.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from signup_relay.constant_contact.names import Resolution
from signup_relay.models import Outcome, Signup, UpsertResult
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert.v2_policy import upsert_contact_v2
from tests.unit.recording_client import RecordingClient

EMAIL = "ada@example.com"
NEVER_OPTED_OUT = "1969-12-31T19:00:00.000Z"


def contact(status: str, opt_out_date: str = NEVER_OPTED_OUT, **fields: Any) -> dict[str, Any]:
    return {
        "id": "42",
        "status": status,
        "email_addresses": [{"email_address": EMAIL, "status": status, "opt_out_date": opt_out_date}],
        "lists": [] if status == "REMOVED" else [{"id": "9", "status": "ACTIVE"}],
        **fields,
    }


class RecordingV2Client(RecordingClient):
    """The V2 client: records each write with its `action_by`; with `conflict`, every POST answers 409."""

    def __init__(self, *lookups: dict[str, Any] | None, conflict: bool = False) -> None:
        super().__init__(*lookups, conflict_on={"create"} if conflict else ())

    def create_contact(self, body: Mapping[str, Any], *, action_by: str) -> dict[str, Any]:
        self._call("create", body, action_by)
        return {"id": "43"}

    def update_contact(self, contact_id: str, body: Mapping[str, Any], *, action_by: str) -> dict[str, Any]:
        self._call("update", body, action_by)
        return {"id": contact_id}


class Lists:
    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        known = {"News": "1", "Events": "2"}
        names = list(names)
        return Resolution(
            ids={n: known[n] for n in names if n in known}, missing=tuple(n for n in names if n not in known)
        )


def signup(consent: Consent = Consent.IMPLICIT, **fields: Any) -> Signup:
    values: dict[str, Any] = {"email": EMAIL, "lists": ("News",), "consent": consent, "route": "legacy"}
    values.update(fields)
    return Signup(**values)


def run(client: RecordingV2Client, sign_up: Signup, **kwargs: Any) -> UpsertResult:
    return upsert_contact_v2(sign_up, client=client, lists=Lists(), **kwargs)


@pytest.mark.parametrize(
    ("consent", "action_by"), [(Consent.EXPLICIT, "ACTION_BY_VISITOR"), (Consent.IMPLICIT, "ACTION_BY_OWNER")]
)
def test_a_new_address_is_posted_by_whoever_consented(consent: Consent, action_by: str) -> None:
    client = RecordingV2Client(None)
    result = run(client, signup(consent))
    assert (result.outcome, result.contact_id, result.calls) == (Outcome.CREATED, "43", 2)
    assert client.calls[1][0] == "create" and client.calls[1][2] == action_by
    assert client.calls[1][1]["lists"] == [{"id": "1"}]


def test_consent_none_creates_nothing_unless_the_route_allows_it() -> None:
    client = RecordingV2Client(None)
    assert run(client, signup(Consent.NONE)).outcome is Outcome.REJECTED
    assert client.operations == ["find"]
    allowed = signup(Consent.NONE, options=UpsertOptions(allow_create_without_consent=True))
    assert run(RecordingV2Client(None), allowed).outcome is Outcome.CREATED


@pytest.mark.parametrize(
    ("consent", "action_by"), [(Consent.EXPLICIT, "ACTION_BY_VISITOR"), (Consent.IMPLICIT, "ACTION_BY_OWNER")]
)
def test_an_active_contact_gets_the_merged_put(consent: Consent, action_by: str) -> None:
    client = RecordingV2Client(contact("ACTIVE", first_name="Ada"))
    result = run(client, signup(consent))
    assert (result.outcome, result.calls) == (Outcome.UPDATED, 2)
    _, body, sent_action_by = client.calls[1]
    assert sent_action_by == action_by
    assert body["first_name"] == "Ada" and body["lists"] == [{"id": "9", "status": "ACTIVE"}, {"id": "1"}]


def test_a_removed_contact_comes_back_on_the_routes_lists() -> None:
    client = RecordingV2Client(contact("REMOVED"))
    result = run(client, signup())
    assert result.outcome is Outcome.REVIVED
    assert client.calls[1][1]["lists"] == [{"id": "1"}]


def test_an_opted_out_contact_without_explicit_consent_is_not_written() -> None:
    client = RecordingV2Client(contact("OPTOUT", "2026-01-01T00:00:00.000Z"))
    result = run(client, signup(Consent.IMPLICIT, submitted_at=datetime(2026, 6, 1, tzinfo=UTC)))
    assert (result.outcome, result.calls) == (Outcome.KEPT_UNSUBSCRIBED, 1)
    assert client.operations == ["find"]


def test_explicit_consent_brings_an_opted_out_contact_back_as_the_visitor() -> None:
    client = RecordingV2Client(contact("OPTOUT", "2026-01-01T00:00:00.000Z"))
    result = run(client, signup(Consent.EXPLICIT, submitted_at=datetime(2026, 6, 1, tzinfo=UTC)))
    assert result.outcome is Outcome.RESUBSCRIBED
    assert client.calls[1][0] == "update" and client.calls[1][2] == "ACTION_BY_VISITOR"


def test_an_opt_out_newer_than_the_submission_stands_even_with_explicit_consent() -> None:
    client = RecordingV2Client(contact("OPTOUT", "2026-06-02T00:00:00.000Z"))
    result = run(client, signup(Consent.EXPLICIT, submitted_at=datetime(2026, 6, 1, tzinfo=UTC)))
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED
    assert "newer than this submission" in (result.reason or "")
    assert client.operations == ["find"]


def test_the_1969_opt_out_date_of_an_active_contact_is_not_an_opt_out() -> None:
    # An ACTIVE contact carries opt_out_date 1969-...: it must not be read as an opt-out
    client = RecordingV2Client(contact("ACTIVE"))
    assert (
        run(client, signup(Consent.EXPLICIT, submitted_at=datetime(1960, 1, 1, tzinfo=UTC))).outcome is Outcome.UPDATED
    )


def test_confirm_by_email_routes_keep_opted_out_contacts_unsubscribed_on_v2() -> None:
    client = RecordingV2Client(contact("OPTOUT"))
    options = UpsertOptions(confirm_resubscribe_by_email=True)
    result = run(client, signup(Consent.EXPLICIT, options=options))
    assert result.outcome is Outcome.KEPT_UNSUBSCRIBED and "V2 cannot send" in (result.reason or "")
    assert client.operations == ["find"]


def test_a_409_for_an_address_found_on_the_second_lookup_takes_the_put_path() -> None:
    client = RecordingV2Client(None, contact("ACTIVE"), conflict=True)
    result = run(client, signup())
    assert result.outcome is Outcome.UPDATED
    assert client.operations == ["find", "create", "find", "update"]


def test_a_409_v2_cannot_see_is_rejected_with_what_to_do_without_a_v3_account() -> None:
    client = RecordingV2Client(None, conflict=True)
    result = run(client, signup())
    assert (result.outcome, result.calls) == (Outcome.REJECTED, 3)
    assert "deleted in the Constant Contact UI" in (result.reason or "") and "v3_account" in (result.reason or "")


def test_a_409_v2_cannot_see_is_written_through_v3_when_the_account_has_one() -> None:
    client = RecordingV2Client(None, conflict=True)
    handed: list[Signup] = []

    def v3_upsert(sign_up: Signup) -> UpsertResult:
        handed.append(sign_up)
        return UpsertResult(outcome=Outcome.REVIVED, contact_id="uuid-1", reason="was deleted", calls=2)

    result = run(client, signup(), v3_upsert=v3_upsert)
    assert handed == [signup()]
    assert (result.outcome, result.contact_id, result.calls) == (Outcome.REVIVED, "uuid-1", 5)
    assert (result.reason or "").startswith("V2 POST answered 409")


def test_custom_fields_must_be_v2_names() -> None:
    client = RecordingV2Client(None)
    result = run(client, signup(custom_fields={"Favourite colour": "blue"}))
    assert result.outcome is Outcome.REJECTED and "CustomField1..CustomField15" in (result.reason or "")
    assert client.operations == []


def test_an_unknown_list_is_rejected_naming_it() -> None:
    client = RecordingV2Client(None)
    result = run(client, signup(lists=("Nope",)))
    assert result.outcome is Outcome.REJECTED and "'Nope'" in (result.reason or "")
    assert client.operations == []


def test_birthday_anniversary_and_tags_are_not_sent_and_said_once_per_route(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a route whose sign-ups carry a birthday, an anniversary and tags (none exist on V2)
    from signup_relay import caches
    from signup_relay.upsert import v2_policy

    caches.clear_all()
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(v2_policy.logger, "info", lambda message, extra: said.append((extra["route"], extra["field"])))
    extra = {"birthday_month": 5, "birthday_day": 12, "anniversary": "2020-01-01", "tags": ("vip",)}
    # When three of its sign-ups and one of another route are upserted
    for route in ("legacy", "legacy", "legacy", "other"):
        client = RecordingV2Client(None)
        assert run(client, signup(route=route, **extra)).outcome is Outcome.CREATED
        body = client.calls[1][1]
        assert not {"birthday_month", "birthday_day", "anniversary", "tags", "taggings"} & set(body)
    # Then each field was mentioned once per route, and none stopped a sign-up
    assert sorted(said) == sorted((r, f) for r in ("legacy", "other") for f in ("birthday", "anniversary", "tags"))


def test_a_sign_up_that_may_not_create_asks_v3_when_there_is_a_v3_app() -> None:
    client = RecordingV2Client(None)
    handed: list[Signup] = []

    def v3_upsert(sign_up: Signup) -> UpsertResult:
        handed.append(sign_up)
        return UpsertResult(outcome=Outcome.REJECTED, reason="no consent captured", calls=1)

    result = run(client, signup(Consent.NONE), v3_upsert=v3_upsert)
    assert [s.email for s in handed] == [EMAIL]
    assert client.operations == ["find"]  # no POST: it may not create
    assert (result.outcome, result.calls) == (Outcome.REJECTED, 2)


def test_after_v3_revived_a_contact_v2_writes_its_custom_fields() -> None:
    # Given V2 cannot see the contact (409), then sees it once V3 brought it back
    client = RecordingV2Client(None, None, contact("ACTIVE"), conflict=True)
    handed: list[Signup] = []

    def v3_upsert(sign_up: Signup) -> UpsertResult:
        handed.append(sign_up)
        return UpsertResult(outcome=Outcome.REVIVED, contact_id="uuid-1", calls=2)

    result = run(client, signup(custom_fields={"CustomField5": "x"}), v3_upsert=v3_upsert)
    # Then V3 got the sign-up without V2's custom fields, and V2's PUT carried them
    assert handed[0].custom_fields == {}
    assert client.operations == ["find", "create", "find", "find", "update"]
    assert {"name": "CustomField5", "value": "x"} in client.calls[-1][1]["custom_fields"]
    assert result.outcome is Outcome.REVIVED and result.calls == 7
