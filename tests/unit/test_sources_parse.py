"""What each source's sample and the real captured deliveries parse and map to."""

from __future__ import annotations

import json

import pytest
from msgspec.structs import replace

from signup_relay.errors import SubmissionInvalidError, UndecodableBodyError, UnsupportedMediaTypeError
from signup_relay.models import RawRequest, to_json
from signup_relay.receive.intake import receive_submission
from signup_relay.receive.sources import get_source
from signup_relay.receive.sources._common import decode_multipart
from signup_relay.routes import Consent
from tests.unit.sources_support import multipart_content_type, now, real_fixture, receive, sample

# events/ sample -> the contact it must become (fields not listed are checked elsewhere).
EXPECTED = {
    "typeform_signup.json": {
        "email": "mary.somerville@example.com",
        "first_name": "Mary",
        "last_name": "Somerville",
        "phone": "+447700900123",
        "lists": ("Newsletter", "Events"),
        "consent": Consent.EXPLICIT,
        "custom_fields": {"Company size": "11-50", "Consent date": "2025-11-26T09:29:58+00:00"},
    },
    "tally_signup.json": {
        "email": "caroline.herschel@example.com",
        "first_name": "Caroline",
        "last_name": "Herschel",
        "phone": "+49 511 1234567",
        "lists": ("Newsletter", "Comet alerts"),
        "consent": Consent.EXPLICIT,
    },
    "webflow_signup.json": {
        "email": "emmy.noether@example.com",
        "first_name": "Emmy",
        "last_name": "Noether",
        "company_name": "Erlangen Algebra GmbH",
        "phone": "4991318500",
        "lists": ("Website leads",),
        "consent": Consent.EXPLICIT,
    },
    "formstack_signup.json": {
        "email": "sophie.germain@example.com",
        "first_name": "Sophie",
        "last_name": "Germain",
        "birthday_month": 4,
        "birthday_day": 1,
        "lists": ("Newsletter",),
        "consent": Consent.EXPLICIT,
    },
    "framer_signup.json": {
        "email": "lise.meitner@example.com",
        "first_name": "Lise",
        "last_name": "Meitner",
        "company_name": "Kaiser Wilhelm Institut",
        "consent": Consent.EXPLICIT,
    },
    "formspree_signup.json": {
        "email": "rosalind.franklin@example.com",
        "first_name": "Rosalind",
        "last_name": "Franklin",
        "lists": ("Contact requests",),
        "consent": Consent.EXPLICIT,
    },
    "wpforms_signup.json": {
        "email": "chien-shiung.wu@example.com",
        "first_name": "Chien-Shiung",
        "last_name": "Wu",
        "company_name": "Université de Genève / Physique",
        "lists": ("Newsletter", "Events"),
        "consent": Consent.EXPLICIT,
    },
    "hubspot_contact.json": {
        "email": "katherine.johnson@example.com",
        "first_name": "Katherine",
        "last_name": "Johnson",
        "company_name": "Langley Research",
        "job_title": "Research Mathematician",
        "phone": "+1 757 555 0142",
        "consent": Consent.IMPLICIT,
        "tags": ("hubspot",),
    },
    "standard_webhooks_signup.json": {
        "email": "ada.yonath@example.com",
        "first_name": "Ada",
        "last_name": "Yonath",
        "job_title": "Structural Biologist",
        "lists": ("Newsletter",),
        "consent": Consent.EXPLICIT,
    },
    "jotform_signup.json": {
        "email": "barbara.mcclintock@example.com",
        "first_name": "Barbara",
        "last_name": "McClintock",
        "phone": "(607) 555-0199",
        "birthday_month": 6,
        "birthday_day": 16,
        "lists": ("Seminars",),
        "consent": Consent.EXPLICIT,
    },
    "gravity_forms_signup.json": {
        "email": "marie.tharp@example.com",
        "first_name": "Marie",
        "last_name": "Tharp",
        "company_name": "Lamont Geological",
        "address": None,
        "consent": Consent.EXPLICIT,
    },
    "elementor_signup.json": {
        "email": "hedy.lamarr@example.com",
        "first_name": "Hedy",
        "last_name": "Lamarr",
        "consent": Consent.EXPLICIT,
    },
    "cf7_signup.json": {
        "email": "annie.easley@example.com",
        "first_name": "Annie",
        "last_name": "Easley",
        "phone": "+1 216 555 0117",
        "consent": Consent.EXPLICIT,
    },
    "cognito_signup.json": {
        "email": "mae.jemison@example.com",
        "first_name": "Mae",
        "last_name": "Jemison",
        "phone": "(312) 555-0100",
        "consent": Consent.EXPLICIT,
    },
    "fillout_signup.json": {
        "email": "vera.rubin@example.com",
        "first_name": "Vera",
        "last_name": "Rubin",
        "company_name": "Carnegie Institution",
        "custom_fields": {"UTM source": "newsletter"},
        "consent": Consent.EXPLICIT,
    },
    "wufoo_signup.json": {
        "email": "henrietta.leavitt@example.com",
        "first_name": "Henrietta",
        "last_name": "Leavitt",
        "company_name": "Harvard College Observatory",
        "phone": "6175550134",
        "consent": Consent.IMPLICIT,
    },
    "unbounce_signup.json": {
        "email": "cecilia.payne@example.com",
        "first_name": "Cecilia",
        "last_name": "Payne",
        "consent": Consent.EXPLICIT,
    },
    "google_forms_signup.json": {
        "email": "jocelyn.bell@example.com",
        "first_name": "Jocelyn",
        "last_name": "Bell Burnell",
        "lists": ("Newsletter", "Pulsar news"),
        "consent": Consent.EXPLICIT,
    },
}
DELIVERY_IDS = {
    "tally_signup.json": "tally-newsletter:7c1e9a52-3b4d-4f8e-a6c2-0d9b8e7f6a51",
    "webflow_signup.json": "webflow-contact:6745973a2f1e0c3b9d8a7f60",
    "formstack_signup.json": "formstack-signup:1187654321",
    "framer_signup.json": "framer-waitlist:3f9d2c1b-7a6e-4d5c-8b4a-1e2f3a4b5c6d",
    "standard_webhooks_signup.json": "standard-webhooks:msg_2pQ8rT4vX6zB1dF3hJ5kL7nP9s",
    "jotform_signup.json": "jotform-registration:6084250982513099999",
    "gravity_forms_signup.json": "gravity-forms-signup:7-1042",
    "fillout_signup.json": "fillout-waitlist:b1f4e7a2-9c3d-4e8f-a1b2-c3d4e5f6a7b8",
    "wufoo_signup.json": "wufoo-signup:z1abcd2e3fgh4ij-42",
    "google_forms_signup.json": "google-forms-signup:2_ABaOnud9xT4mK1qWzL0pR7sY3vB8nC5eF2hJ6",
    "formspree_signup.json": None,
    "elementor_signup.json": None,
    "unbounce_signup.json": None,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_maps_to_the_expected_contact(name):
    # Given a source's sample delivery / When received through its example route
    signup = receive(name)
    # Then every expected contact field has the expected value
    assert {field: getattr(signup, field) for field in EXPECTED[name]} == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(DELIVERY_IDS))
def test_delivery_id_comes_from_the_source(name):
    # Given a sample / When received / Then the delivery id is the sender's own, namespaced by route
    assert receive(name).delivery_id == DELIVERY_IDS[name]


def test_consent_evidence_records_time_form_and_ip():
    # Given the Jotform sample (it reports the visitor's IP) / When received
    evidence = receive("jotform_signup.json").consent_evidence
    # Then the evidence names the form, the IP and the checkbox wording
    assert evidence is not None
    assert (evidence.source, evidence.form, evidence.ip, evidence.text) == (
        "jotform", "Seminar registration", "198.51.100.23", "I agree to receive emails"
    )  # fmt: skip


def test_consent_evidence_time_is_the_submission_time():
    # Given the Typeform sample submitted at 09:29:58Z / When received
    evidence = receive("typeform_signup.json").consent_evidence
    # Then
    assert evidence is not None and evidence.at.isoformat() == "2025-11-26T09:29:58+00:00"


def test_jotform_echoed_token_never_reaches_the_signup():
    # Given the Jotform sample: its webhookURL part echoes ?token=<route secret>
    route, request, secret = sample("jotform_signup.json")
    assert secret.encode() in request.body
    # When received, even by a route that maps every field it can into custom fields
    greedy = route.model_copy(update={"custom_fields": {"webhookURL": "Webhook", "pretty": "Pretty", "slug": "Slug"}})
    signup = receive_submission(greedy, request, secret=secret, now=now())
    # Then the secret appears nowhere in the sign-up (the queue message)
    assert secret not in to_json(signup)
    assert "Webhook" not in signup.custom_fields


@pytest.mark.parametrize(
    ("name", "field"),
    [("typeform_missing_email.json", "email"), ("tally_missing_email.json", "email"),
     ("hubspot_app_events_no_email.json", "email"), ("jotform_real_capture_no_email.json", "email")],
)  # fmt: skip
def test_missing_email_is_a_422_naming_the_field(name, field):
    # Given an authenticated delivery without a usable email / When received / Then 422 naming the field
    with pytest.raises(SubmissionInvalidError) as caught:
        receive(name)
    assert caught.value.status == 422
    assert field in caught.value.field_errors


def test_wrong_content_type_is_415_after_authentication():
    # Given a correctly signed Formstack delivery sent as text/xml / When received / Then 415
    with pytest.raises(UnsupportedMediaTypeError):
        receive("formstack_wrong_content_type.json")


@pytest.mark.parametrize(
    ("source", "content_type", "body"),
    [
        ("typeform", "application/json", b'{"form_response": '),
        ("tally", "application/json", b"\xff\xfe not utf-8"),
        ("jotform", "multipart/form-data", b"--x\r\n\r\n"),
        ("jotform", "multipart/form-data; boundary=B", b'--B\r\nContent-Disposition: form-data; name="rawRequest"'
         b"\r\n\r\n{not json\r\n--B--\r\n"),
        ("unbounce", "application/x-www-form-urlencoded", b"page_id=1&data.json=%7Bnope"),
        ("unbounce", "application/x-www-form-urlencoded", b"page_id=1"),
        ("generic", "application/json", b"[1, 2]"),
        ("webflow", "application/json", b'{"payload": {"data": "x"}}'),
    ],
)  # fmt: skip
def test_undecodable_bodies_are_400(source, content_type, body):
    # Given a body the source cannot read / When parsed / Then UndecodableBodyError (400)
    with pytest.raises(UndecodableBodyError):
        get_source(source).parse(RawRequest(headers={"content-type": content_type}, body=body))


@pytest.mark.parametrize("source", ["typeform", "tally", "webflow", "framer", "hubspot", "cf7", "cognito", "fillout"])
def test_json_sources_refuse_form_bodies_with_415(source):
    # Given a URL-encoded body sent to a JSON-only source / When parsed / Then 415
    request = RawRequest(headers={"content-type": "application/x-www-form-urlencoded"}, body=b"email=a%40b.co")
    with pytest.raises(UnsupportedMediaTypeError):
        get_source(source).parse(request)


def test_unknown_fields_are_ignored():
    # Given a generic delivery with fields no route maps / When received
    route, request, secret = sample("generic_signup.json")
    body = json.dumps({"email": "ada@example.com", "favourite_engine": "analytical", "x": {"y": [1, {"z": 2}]}})
    request = replace(request, body=body.encode())
    signup = receive_submission(route, request, secret=secret, now=now())
    # Then they do not appear in the sign-up
    assert "analytical" not in to_json(signup)


# --- real captured deliveries (tests/fixtures/real, see its README) ---------------------------


def _parse(source: str, body: bytes, content_type: str):
    return get_source(source).parse(RawRequest(headers={"content-type": content_type}, body=body))


def test_real_typeform_delivery_parses_every_answer_type():
    # Given Typeform's captured "SDK Use" delivery / When parsed
    submission = _parse("typeform", real_fixture("typeform/sdk-use-all-field-types.json"), "application/json")
    answers = {a.key: a for a in submission.answers}
    # Then answers are keyed by ref, typed, with choice labels and hidden fields
    assert answers["sdk_email"].value == "johndoe@example.com" and answers["sdk_email"].kind == "email"
    assert answers["sdk_phonenumber"].kind == "phone"
    assert answers["sdk_multichoice_multi"].value == ("Choice1", "Choice2")
    assert answers["hiddenfield1"].kind == "hidden"
    assert "sdk_payment" not in answers  # payments are not sign-up data
    assert submission.form_name == "SDK Use"


def test_real_typeform_other_choices_and_shared_event_id():
    # Given the two Typeform captures that share one event_id and token but differ in content
    first = _parse("typeform", real_fixture("typeform/sdk-use-all-field-types.json"), "application/json")
    second = _parse("typeform", real_fixture("typeform/sdk-use-other-choices.json"), "application/json")
    answers = {a.key: a.value for a in second.answers}
    # Then "other" answers are read from choice.other / choices.other
    assert answers["sdk_multichoice_single_other"] == "TEXT"
    assert answers["sdk_multichoice_multi_other"] == ("Choice1", "Choice2", "TEXT")
    # And the two deliveries keep the event id but are not deduplicated into one
    assert first.delivery_id and second.delivery_id
    assert first.delivery_id.split(":")[0] == second.delivery_id.split(":")[0] == "01E58BT3PVFC3D5CN4W8D433ZE"
    assert first.delivery_id != second.delivery_id


def test_real_typeform_delivery_maps_through_a_route():
    # Given a Typeform route keyed on the capture's refs
    route, _request, secret = sample("typeform_signup.json")
    route = route.model_copy(update={"custom_fields": {}, "list_field": None, "consent_custom_fields": None})
    body = real_fixture("typeform/sdk-use-all-field-types.json")
    request = RawRequest(headers={"content-type": "application/json"}, body=body)
    # When mapped (verification is covered elsewhere)
    from signup_relay.receive.mapping import map_submission

    signup = map_submission(get_source("typeform").parse(request), route, now=now())
    # Then the email and phone come from the typed answers
    assert (signup.email, signup.phone) == ("johndoe@example.com", "+12345678900")


@pytest.mark.parametrize("path", ["jotform/tutor-appointment.multipart", "jotform/colon-comma-in-labels.multipart"])
def test_real_jotform_multipart_never_exposes_the_echoed_url(path):
    # Given a captured Jotform multipart delivery (CRLF on the wire) that echoes api_key in webhookURL
    body = real_fixture(path, crlf=True)
    # When parsed
    submission = _parse("jotform", body, multipart_content_type(body))
    # Then answers come only from rawRequest's q<N>_ keys: no URL, no pretty summary, no bookkeeping
    assert submission.answers
    assert all(a.key.startswith("q") for a in submission.answers)
    assert "api_key" not in repr(submission)
    assert submission.delivery_id and submission.form_id and submission.ip


def test_real_jotform_compound_and_array_answers():
    # Given the two captured multipart deliveries
    tutor = real_fixture("jotform/tutor-appointment.multipart", crlf=True)
    colon = real_fixture("jotform/colon-comma-in-labels.multipart", crlf=True)
    # When parsed
    tutor_answers = {a.key: a for a in _parse("jotform", tutor, multipart_content_type(tutor)).answers}
    colon_answers = {a.key: a for a in _parse("jotform", colon, multipart_content_type(colon)).answers}
    # Then a name object becomes typed first/last parts and a checkbox array stays an array
    assert tutor_answers["q3_studentsName.first"].kind == "first_name"
    assert tutor_answers["q3_studentsName.last"].kind == "last_name"
    assert colon_answers["q23_multipleChoice"].value == ("Option; 1", "Option2")
    assert colon_answers["q10_nameHehe"].value == "Value1 with colon: and comma, end"


def test_real_jotform_json_reencoding_with_address_and_signature_image():
    # Given the request-bin capture re-encoded as JSON (a 6.9 kB signature data URI in rawRequest)
    submission = _parse("jotform", real_fixture("jotform/signature-pipedream-bin.json"), "application/json")
    answers = {a.key: a for a in submission.answers}
    # Then the name and address parts come from rawRequest (not the contradicting `pretty`)
    assert answers["q3_name.first"].value == "gerd"
    assert answers["q5_address.city"].kind == "city"
    assert answers["q5_address.postal"].value == "165"
    assert submission.delivery_id == "4791133489169827307"


def test_real_jotform_capture_without_email_is_422():
    # Given the tutor capture, which has no email question, through the example Jotform route
    route, _request, secret = sample("jotform_signup.json")
    body = real_fixture("jotform/tutor-appointment.multipart", crlf=True)
    request = RawRequest(headers={"content-type": multipart_content_type(body)}, query={"token": secret}, body=body)
    # When / Then
    with pytest.raises(SubmissionInvalidError) as caught:
        receive_submission(route, request, secret=secret, now=now())
    assert set(caught.value.field_errors) == {"email"}


def test_real_unbounce_one_element_arrays_are_flattened():
    # Given Unbounce's captured test webhook (every data.json value is a one-element array)
    body = real_fixture("unbounce/test-webhook-email.urlencoded")
    submission = _parse("unbounce", body, "application/x-www-form-urlencoded")
    # Then the email is a plain value, page metadata is not an answer, and the visitor IP is kept
    assert [(a.key, a.value) for a in submission.answers] == [("email", "test@snowplowanalytics.com")]
    assert submission.ip == "200.121.220.179"
    assert submission.form_name == "Test-Webhook"


def test_real_unbounce_split_date_and_time_become_the_submission_time():
    # Given the "wayfaring" capture (date and time in separate arrays, spaces as '+')
    body = real_fixture("unbounce/wayfaring-userfield.urlencoded")
    submission = _parse("unbounce", body, "application/x-www-form-urlencoded")
    # Then
    assert submission.submitted_at is not None and submission.submitted_at.isoformat() == "2017-11-15T11:45:00+00:00"
    assert [(a.key, a.value) for a in submission.answers] == [("userfield1", "asdfasdf")]


def test_real_hubspot_app_event_batch_is_a_clear_422():
    # Given HubSpot's captured app-subscription batch (a JSON array of thin events)
    body = real_fixture("hubspot/app-webhook-contact-creation.json")
    # When parsed / Then 422 explaining that these events carry no email
    with pytest.raises(SubmissionInvalidError, match="no email") as caught:
        _parse("hubspot", body, "application/json")
    assert "workflow" in caught.value.field_errors["email"]


def test_hubspot_single_contact_in_an_array_is_read():
    # Given a one-element array holding a contact / When parsed
    body = json.dumps([{"properties": {"email": {"value": "k@example.com"}}}]).encode()
    submission = _parse("hubspot", body, "application/json")
    # Then
    assert [(a.key, a.kind) for a in submission.answers] == [("email", "email")]


def _form_part(name: str, value: str, extra: str = "") -> str:
    return f'--B\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n{value}\r\n'


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_form_part("email", "ada@example.com") * 1001 + "--B--\r\n", "Maximum segment count exceeded"),
        (_form_part("email", "ada@example.com", "; x=" + "y" * 2100) + "--B--\r\n", "header length exceeded"),
        (_form_part("email", "ada@example.com").replace("\r\n", "\n") + "--B--\n", "line break"),
        (_form_part("email", "ada@example.com"), "Unexpected end of multipart stream"),
        ("--B\r\nContent-Type: multipart/mixed; boundary=C\r\n\r\n--C--\r\n--B--\r\n", "Content-Disposition"),
        (_form_part("email", "ada@example.com", "\r\nContent-Type: text/plain; charset=nope") + "--B--\r\n", "charset"),
    ],
    ids=["1,001 parts", "a 2 KB part header", "bare LF", "no closing boundary", "nested multipart", "bad charset"],
)
def test_multipart_limits_and_malformed_bodies_are_400_naming_the_problem(body: str, problem: str):
    # Given a multipart body past a limit or not RFC 7578
    request = RawRequest(headers={"content-type": "multipart/form-data; boundary=B"}, body=body.encode())
    # When the generic source parses it / Then 400 (UndecodableBodyError), the message naming the problem
    with pytest.raises(UndecodableBodyError, match=problem):
        get_source("generic").parse(request)


def test_multipart_fields_keep_order_repeats_and_file_names():
    # Given a multipart body with a repeated name, an empty value and a file part
    body = (
        _form_part("email", "ada@example.com")
        + _form_part("lists", "News")
        + _form_part("lists", "Events")
        + _form_part("note", "")
        + _form_part("cv", "%PDF-1.7 ...", '; filename="cv.pdf"')
        + "--B--\r\n"
    ).encode()
    request = RawRequest(headers={"content-type": 'multipart/form-data; boundary="B"'}, body=body)
    # When decoded / Then every field in order, the file part as its file name only
    assert decode_multipart(request) == [
        ("email", "ada@example.com"),
        ("lists", "News"),
        ("lists", "Events"),
        ("note", ""),
        ("cv", "cv.pdf"),
    ]
