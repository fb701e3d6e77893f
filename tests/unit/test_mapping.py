"""Submission + Route -> Signup: defaults, normalization, Constant Contact limits, consent, lists, evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signup_relay.emails import normalize_email
from signup_relay.errors import SubmissionInvalidError
from signup_relay.models import to_json
from signup_relay.receive.mapping import map_submission, parse_month_day, split_full_name
from signup_relay.receive.submission import Answer, Submission
from signup_relay.routes import Consent, parse_routes

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def route(**body):
    data = {"source": "generic", "consent": "explicit", **body}
    return parse_routes({"routes": {"form": data}}).get("form")


def submission(*answers: Answer | tuple[str, str | tuple[str, ...]], **extra) -> Submission:
    items = tuple(a if isinstance(a, Answer) else Answer(key=a[0], value=a[1]) for a in answers)
    return Submission(source="generic", answers=items, **extra)


def signup_of(*answers, route_body=None, **extra):
    return map_submission(submission(*answers, **extra), route(**(route_body or {})), now=NOW)


def field_errors(*answers, route_body=None) -> dict[str, str]:
    with pytest.raises(SubmissionInvalidError) as caught:
        signup_of(*answers, route_body=route_body)
    return caught.value.field_errors


# --- email -----------------------------------------------------------------------------------


def test_email_is_stripped_and_lower_cased():
    # Given an email with spaces and capitals / When mapped / Then as Constant Contact stores it
    assert signup_of(("email", "  Ada.Lovelace@Example.COM \n")).email == "ada.lovelace@example.com"


def test_email_found_by_field_type_before_label():
    # Given a typed email answer under an unusual label, and a decoy labelled "email"
    typed = Answer(key="q1", value="typed@example.com", label="Where can we reach you?", kind="email")
    signup = signup_of(("Email", "decoy@example.com"), typed)
    # Then the typed answer wins
    assert signup.email == "typed@example.com"


@pytest.mark.parametrize("label", ["email", "E-mail", "Email Address", "your-email", "YOUR EMAIL *"])
def test_email_found_by_common_labels(label):
    assert signup_of((label, "ada@example.com")).email == "ada@example.com"


def test_email_from_a_configured_field():
    # Given a route naming the email field "Work address" (matched case-insensitively)
    signup = signup_of(
        ("Email", "home@example.com"),
        ("work address", "work@example.com"),
        route_body={"fields": {"email": "Work Address"}},
    )
    # Then
    assert signup.email == "work@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        "not-an-email",
        "ada@",
        "@example.com",
        "ada@example",
        "ada lovelace@example.com",
        "ada@@example.com",
        "ada@exa_mple.com",
        "ada..l@example.com",
        "ädä@example.com",
    ],
)
def test_invalid_email_is_rejected_naming_the_field(raw):
    errors = field_errors(("email", raw))
    assert list(errors) == ["email"] and "not a valid email" in errors["email"]


def test_missing_email_is_rejected():
    assert "missing" in field_errors(("first_name", "Ada"))["email"]


def test_empty_email_is_rejected():
    assert "empty" in field_errors(("email", "  "))["email"]


def test_email_over_80_characters_is_rejected():
    # Given an 81-character address (Constant Contact's limit on /contacts is 80)
    email = "a" * 64 + "@" + "b" * 12 + ".com"
    assert len(email) == 81
    # When / Then
    assert "at most 80" in field_errors(("email", email))["email"]


def test_email_at_80_characters_is_accepted():
    email = "a" * 64 + "@" + "b" * 11 + ".com"
    assert signup_of(("email", email)).email == email


def test_normalize_email_drops_mailto():
    assert normalize_email("mailto:Ada@Example.com") == "ada@example.com"


# --- names, phone, company, address ----------------------------------------------------------


def test_common_labels_find_the_contact_fields():
    signup = signup_of(
        ("email", "ada@example.com"),
        ("First Name", "Ada"),
        ("Surname", "Lovelace"),
        ("Phone Number", "+44 20 7946 0018"),
        ("Organisation", "Analytical Engines"),
        ("Job Title", "Mathematician"),
        ("Street Address", "12 St James's Sq"),
        ("Town", "London"),
        ("Postcode", "SW1Y 4JH"),
        ("Country", "UK"),
        ("Address line 2", "Flat 2"),
    )
    assert (signup.first_name, signup.last_name, signup.phone, signup.company_name, signup.job_title) == (
        "Ada",
        "Lovelace",
        "+44 20 7946 0018",
        "Analytical Engines",
        "Mathematician",
    )
    assert signup.address is not None
    assert (signup.address.street, signup.address.city, signup.address.postal_code, signup.address.country) == (
        "12 St James's Sq, Flat 2",
        "London",
        "SW1Y 4JH",
        "UK",
    )


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("Ada King Lovelace", "Ada", "King Lovelace"),
        ("Lovelace, Ada", "Ada", "Lovelace"),
        ("Ada", "Ada", None),
        ("  Ada   Lovelace ", "Ada", "Lovelace"),
    ],
)
def test_full_name_is_split(full, first, last):
    assert split_full_name(full) == (first, last)
    signup = signup_of(("email", "ada@example.com"), ("Your Name", full))
    assert (signup.first_name, signup.last_name) == (first, last)


def test_separate_first_and_last_names_win_over_full_name():
    signup = signup_of(("email", "a@example.com"), ("name", "Augusta King"), ("first_name", "Ada"))
    assert (signup.first_name, signup.last_name) == ("Ada", None)


def test_typed_name_parts_are_used():
    signup = signup_of(
        ("email", "a@example.com"),
        Answer("q3.first", "Ada", kind="first_name"),
        Answer("q3.last", "Lovelace", kind="last_name"),
    )
    assert (signup.first_name, signup.last_name) == ("Ada", "Lovelace")


@pytest.mark.parametrize(
    ("field", "label", "limit"),
    [
        ("first_name", "first_name", 50),
        ("last_name", "last_name", 50),
        ("company_name", "company", 50),
        ("job_title", "job_title", 50),
        ("phone", "phone", 25),
    ],
)
def test_values_over_constant_contact_limits_are_rejected_naming_the_field(field, label, limit):
    # Given a value one character over Constant Contact's limit
    value = "1" * (limit + 1) if field == "phone" else "x" * (limit + 1)
    # When / Then 422 naming the contact field
    errors = field_errors(("email", "a@example.com"), (label, value))
    assert field in errors and f"at most {limit}" in errors[field]


def test_values_over_limits_are_truncated_when_the_route_says_so():
    signup = signup_of(("email", "a@example.com"), ("company", "x" * 60), route_body={"too_long": "truncate"})
    assert signup.company_name == "x" * 50


def test_values_at_the_limit_are_kept():
    assert signup_of(("email", "a@example.com"), ("company", "x" * 50)).company_name == "x" * 50


def test_all_field_errors_are_reported_together():
    errors = field_errors(("email", "nope"), ("first_name", "x" * 51), ("phone", "call me"))
    assert set(errors) == {"email", "first_name", "phone"}


@pytest.mark.parametrize("phone", ["+1 (555) 010-0199", "0032 491 22 33 44", "555.0100 ext. 12", "5550100 x12"])
def test_phone_numbers_are_accepted(phone):
    assert signup_of(("email", "a@example.com"), ("phone", phone)).phone == phone


def test_typed_phone_answer_is_used():
    signup = signup_of(("email", "a@example.com"), Answer("q9", "+1 555 0100", label="Best number", kind="phone"))
    assert signup.phone == "+1 555 0100"


def test_phone_kind_and_address_kind_come_from_the_route():
    signup = signup_of(
        ("email", "a@example.com"),
        ("phone", "5550100"),
        ("city", "Paris"),
        route_body={"phone_kind": "work", "address_kind": "work"},
    )
    assert signup.phone_kind == "work" and signup.address is not None and signup.address.kind == "work"


# --- birthday, anniversary -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1815-12-10", (12, 10)),
        ("12/10/1815", (12, 10)),
        ("25/12/1990", (12, 25)),
        ("12/10", (12, 10)),
        ("December 10, 1815", (12, 10)),
        ("10 Dec", (12, 10)),
        ("Apr 01, 1976", (4, 1)),
        ("02/29", (2, 29)),
        ("1815/12/10", (12, 10)),
        ("2000-01-01T00:00:00Z", (1, 1)),
    ],
)
def test_birthday_formats(text, expected):
    assert parse_month_day(text) == expected
    signup = signup_of(("email", "a@example.com"), ("Date of birth", text))
    assert (signup.birthday_month, signup.birthday_day) == expected


@pytest.mark.parametrize("text", ["13/13/2000", "02/30", "someday", "1815", "1990/12", "99999999999/1", "¹²/³"])
def test_unreadable_birthday_is_rejected(text):
    assert "birthday" in field_errors(("email", "a@example.com"), ("birthday", text))


def test_birthday_from_compound_parts():
    signup = signup_of(
        ("email", "a@example.com"),
        ("q6_birthday.month", "06"),
        ("q6_birthday.day", "16"),
        route_body={"fields": {"birthday": "q6_birthday"}},
    )
    assert (signup.birthday_month, signup.birthday_day) == (6, 16)


def test_anniversary_is_normalized_to_iso():
    assert signup_of(("email", "a@example.com"), ("anniversary", "06/16/2010")).anniversary == "2010-06-16"
    assert "anniversary" in field_errors(("email", "a@example.com"), ("anniversary", "next spring"))


# --- consent ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["explicit", "implicit", "none"])
def test_plain_consent_modes(mode):
    assert signup_of(("email", "a@example.com"), route_body={"consent": mode}).consent == Consent(mode)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("yes", Consent.EXPLICIT),
        ("on", Consent.EXPLICIT),
        ("true", Consent.EXPLICIT),
        ("I agree", Consent.EXPLICIT),
        (("Yes, subscribe me",), Consent.EXPLICIT),
        ("no", Consent.NONE),
        ("false", Consent.NONE),
        ("", Consent.NONE),
        ((), Consent.NONE),
        ("0", Consent.NONE),
    ],
)
def test_checkbox_consent_without_values_takes_any_yes(answer, expected):
    signup = signup_of(
        ("email", "a@example.com"), ("subscribe", answer), route_body={"consent": {"field": "subscribe"}}
    )
    assert signup.consent == expected


def test_checkbox_consent_with_values_and_otherwise():
    body = {"consent": {"field": "newsletter", "values": ["Weekly"], "otherwise": "implicit"}}
    assert signup_of(("email", "a@x.io"), ("newsletter", "weekly"), route_body=body).consent == Consent.EXPLICIT
    assert signup_of(("email", "a@x.io"), ("newsletter", "Monthly"), route_body=body).consent == Consent.IMPLICIT
    assert signup_of(("email", "a@x.io"), route_body=body).consent == Consent.IMPLICIT


def test_consent_evidence_from_the_submission():
    # Given a checkbox consent with the person's IP and submission time
    at = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    signup = signup_of(
        ("email", "a@example.com"),
        Answer("c1", "I agree to the newsletter", label="Consent"),
        route_body={"consent": {"field": "Consent"}},
        submitted_at=at,
        ip="198.51.100.1",
        form_name="Newsletter",
    )
    # Then the evidence records time, source, form, IP and the checkbox wording
    evidence = signup.consent_evidence
    assert evidence is not None
    assert (evidence.at, evidence.source, evidence.form, evidence.ip, evidence.text) == (
        at,
        "generic",
        "Newsletter",
        "198.51.100.1",
        "I agree to the newsletter",
    )


def test_consent_evidence_falls_back_to_now_and_the_route_form_name():
    signup = signup_of(("email", "a@example.com"), route_body={"form_name": "Footer form"})
    assert signup.consent_evidence is not None
    assert (signup.consent_evidence.at, signup.consent_evidence.form) == (NOW, "Footer form")


def test_no_evidence_without_consent():
    assert signup_of(("email", "a@example.com"), route_body={"consent": "none"}).consent_evidence is None


def test_consent_evidence_as_custom_fields():
    signup = signup_of(
        ("email", "a@example.com"),
        ip="198.51.100.1",
        route_body={"consent_custom_fields": {"at": "Opt-in date", "ip": "Opt-in IP", "form": "Form"}},
    )
    assert signup.custom_fields == {"Opt-in date": NOW.isoformat(), "Opt-in IP": "198.51.100.1"}


# --- lists, tags, custom fields, options --------------------------------------------------------


def test_static_lists_and_tags():
    signup = signup_of(("email", "a@example.com"), route_body={"lists": ["Newsletter"], "tags": ["web", "2026"]})
    assert (signup.lists, signup.tags) == (("Newsletter",), ("web", "2026"))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (("Weekly news", "Events"), ("Newsletter", "Events")),
        ("Weekly news||Events", ("Newsletter", "Events")),
        ("weekly news, events", ("Newsletter", "Events")),
        ("Unknown choice", ("Newsletter",)),
        ("Option, with comma", ("Newsletter", "Commas")),
    ],
)
def test_list_choices_map_to_lists(answer, expected):
    body = {
        "lists": ["Newsletter"],
        "list_field": {
            "field": "interests",
            "choices": {"Weekly news": "Newsletter", "Events": "Events", "Option, with comma": "Commas"},
        },
    }
    assert signup_of(("email", "a@example.com"), ("interests", answer), route_body=body).lists == expected


def test_list_field_without_choices_uses_the_choice_text():
    body = {"list_field": {"field": "lists"}}
    assert signup_of(("email", "a@example.com"), ("lists", ("Alpha", "Beta")), route_body=body).lists == (
        "Alpha",
        "Beta",
    )


def test_custom_fields_by_name():
    body = {"custom_fields": {"Favourite engine": "Engine", "colours": "Colours", "absent": "Absent"}}
    signup = signup_of(
        ("email", "a@example.com"), ("favourite engine", "Analytical"), ("colours", ("red", "blue")), route_body=body
    )
    assert signup.custom_fields == {"Engine": "Analytical", "Colours": "red, blue"}


def test_custom_field_over_255_characters_is_rejected():
    errors = field_errors(
        ("email", "a@example.com"), ("notes", "x" * 256), route_body={"custom_fields": {"notes": "Notes"}}
    )
    assert "custom_fields.Notes" in errors


def test_empty_values_clear_only_when_the_route_allows():
    answers = (("email", "a@example.com"), ("first_name", ""), ("company", "  "))
    assert signup_of(*answers).clear_fields == ()
    cleared = signup_of(*answers, route_body={"allow_clearing": True})
    assert cleared.clear_fields == ("first_name", "company_name")
    assert cleared.first_name is None


def test_route_options_account_and_route_name_are_carried():
    body = {
        "create_missing_lists": True,
        "allow_create_without_consent": True,
        "send_resubscribe_email": True,
        "record_consent_note": False,
        "account": "signup-relay/constant-contact/acme",
    }
    signup = signup_of(("email", "a@example.com"), route_body=body)
    assert signup.options.create_missing_lists and signup.options.allow_create_without_consent
    assert signup.options.send_resubscribe_email and not signup.options.record_consent_note
    assert (signup.account, signup.route) == ("signup-relay/constant-contact/acme", "form")


def test_delivery_id_is_namespaced_by_route():
    assert signup_of(("email", "a@example.com"), delivery_id="42").delivery_id == "form:42"
    assert signup_of(("email", "a@example.com")).delivery_id is None


def test_values_containing_the_route_secret_are_dropped():
    # Given a sender that echoes the route token in an answer the route maps
    secret = "tok-0123456789abcdef"
    sub = submission(("email", "a@example.com"), ("source_url", f"https://x.example/hook?token={secret}"))
    body = {"custom_fields": {"source_url": "Source"}}
    # When mapped with that secret / Then the value never reaches the sign-up
    signup = map_submission(sub, route(**body), now=NOW, secret=secret)
    assert secret not in to_json(signup)


# --- submission time -----------------------------------------------------------------------------


def test_submitted_at_is_the_senders_own_time_when_it_gives_one():
    # Given a submission the sender stamped an hour before receive accepted it
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    # Then the sign-up carries that time (the policy compares it with an opt-out)
    assert signup_of(("email", "a@example.com"), submitted_at=at).submitted_at == at


def test_submitted_at_is_when_receive_accepted_it_otherwise():
    assert signup_of(("email", "a@example.com")).submitted_at == NOW


def test_submitted_at_in_the_future_is_capped_at_receipt():
    # Given a sender clock ahead of ours (or a forged timestamp)
    ahead = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    # Then the submission is not taken to be newer than when it arrived
    assert signup_of(("email", "a@example.com"), submitted_at=ahead).submitted_at == NOW
