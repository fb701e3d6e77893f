"""The queue's and the DLQ's JSON: messages already in flight when a new version deploys must still decode.

WRITTEN is a queued sign-up exactly as the previous (pydantic) models wrote it; the msgspec models read it and
write the same bytes back, so a rolling deploy or a DLQ replay across versions changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from signup_relay.models import (
    Consent,
    FailureRecord,
    InvalidModel,
    QueuedSignup,
    UpsertOptions,
    convert,
    decode,
    to_data,
    to_json,
)

WRITTEN = (
    '{"version":1,"id":"r:1","received_at":"2026-11-27T21:00:05.123456Z","signup":{"email":"ada@example.com",'
    '"first_name":"Ada","last_name":null,"job_title":null,"company_name":null,"phone":"+1 555","phone_kind":"mobile",'
    '"address":{"kind":"home","street":"1 Main","city":"X","state":null,"postal_code":null,"country":null},'
    '"birthday_month":3,"birthday_day":1,"anniversary":null,"custom_fields":{"Plan":"pro"},"lists":["News"],'
    '"tags":["t"],"consent":"explicit","consent_evidence":{"at":"2026-11-27T21:00:05.123456Z","source":"typeform",'
    '"form":null,"ip":"1.2.3.4","text":"I agree"},"clear_fields":["phone"],"options":{"create_missing_lists":true,'
    '"create_missing_custom_fields":false,"create_missing_tags":true,"allow_create_without_consent":false,'
    '"send_resubscribe_email":false,"confirm_resubscribe_by_email":false,"record_consent_note":true,'
    '"consent_note_on_sign_up_form":false,"api":"v2"},"source":"typeform","route":"r","delivery_id":"r:1",'
    '"account":"acc","submitted_at":"2026-11-27T21:00:02.123456Z"}}'
)
RECEIVED = datetime(2026, 11, 27, 21, 0, 5, 123456, tzinfo=UTC)


def test_a_message_the_previous_version_wrote_decodes_and_encodes_byte_for_byte() -> None:
    queued = decode(WRITTEN, QueuedSignup)
    assert queued.received_at == RECEIVED
    assert queued.signup.consent is Consent.EXPLICIT
    assert queued.signup.lists == ("News",) and queued.signup.address is not None
    assert queued.signup.options == UpsertOptions(create_missing_lists=True, api="v2")
    assert to_json(queued) == WRITTEN


def test_a_message_from_before_submitted_at_takes_the_receive_time() -> None:
    data = json.loads(WRITTEN)
    del data["signup"]["submitted_at"]
    assert decode(json.dumps(data), QueuedSignup).signup.submitted_at == RECEIVED


def test_a_dlq_record_round_trips_through_its_json_data() -> None:
    queued = decode(WRITTEN, QueuedSignup)
    record = FailureRecord(
        stage="upsert",
        route="r",
        error_class="rejected",
        message="m",
        failed_at=RECEIVED,
        signup=queued.signup,
        queued_id=queued.id,
        received_at=queued.received_at,
    )
    assert convert(json.loads(to_json(record)), FailureRecord) == record
    assert to_data(record)["signup"]["consent"] == "explicit"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["signup"].update(birthday_month=13), "birthday_month"),
        (lambda d: d["signup"].update(consent="maybe"), "consent"),
        (lambda d: d["signup"].update(unknown_key=1), "unknown_key"),
        (lambda d: d.pop("received_at"), "received_at"),
        (lambda d: d.update(version=2), "version"),
    ],
)
def test_a_message_that_does_not_fit_is_refused_naming_the_field(change, named) -> None:
    data = json.loads(WRITTEN)
    change(data)
    with pytest.raises(InvalidModel, match=named):
        decode(json.dumps(data), QueuedSignup)


def test_text_that_is_not_json_is_refused_the_same_way() -> None:
    with pytest.raises(InvalidModel):
        decode('{"version": 1,', QueuedSignup)
