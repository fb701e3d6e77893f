"""emails: one form per address (receive's group key and upsert's lookup agree), validation before folding."""

from __future__ import annotations

import pytest

from signup_relay.emails import InvalidEmailError, contact_key, normalize_email, validated_email
from signup_relay.observability import mask_email, mask_emails_in

KELVIN = "\u212a"  # KELVIN SIGN: lower-cases to a plain "k"


@pytest.mark.parametrize("raw", [" Ada@Example.COM ", "mailto:ada@example.com", "<ada@EXAMPLE.com>"])
def test_spellings_of_one_address_are_one_address(raw):
    assert validated_email(raw) == normalize_email(raw) == "ada@example.com"
    assert contact_key(raw) == contact_key("ada@example.com")


def test_an_internationalised_domain_is_accepted_and_matched_in_one_form():
    # Given the same address with its domain in Unicode and in punycode
    unicode_form, punycode_form = "Ada@Bücher.example", "ada@xn--bcher-kva.example"
    # Then both validate to the punycode form, and receive's key and upsert's lookup agree
    assert validated_email(unicode_form) == validated_email(punycode_form) == punycode_form
    assert normalize_email(unicode_form) == punycode_form
    assert contact_key(unicode_form) == contact_key(punycode_form)


@pytest.mark.parametrize(
    "look_alike",
    [f"{KELVIN}im@example.com", f"kim@{KELVIN}ample.com", f"ada@ex{KELVIN}ample.com"],
)
def test_a_look_alike_character_is_refused_and_never_folded_into_another_address(look_alike):
    with pytest.raises(InvalidEmailError):
        validated_email(look_alike)
    # even the lenient form used for lookups keeps it apart from the plain address
    assert normalize_email(look_alike) != normalize_email(look_alike.replace(KELVIN, "k"))


@pytest.mark.parametrize("raw", ["ada", "ada@", "@example.com", "ada@example", "ada @example.com", "adé@example.com"])
def test_what_constant_contact_cannot_take_is_refused_with_a_reason(raw):
    with pytest.raises(InvalidEmailError) as refused:
        validated_email(raw)
    assert str(refused.value)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ada@example.com", "a***@example.com"),
        ("sent to Zoë@bücher.example today", "sent to Z***@bücher.example today"),
        ("ошибка: иван@пример.рф", "ошибка: и***@пример.рф"),
        ("email=ada@example.com&token=x", "email=a***@example.com&token=x"),
    ],
)
def test_logs_mask_addresses_in_any_script(text, masked):
    assert mask_emails_in(text) == masked


def test_mask_email_keeps_only_the_first_character():
    assert mask_email("Иван@пример.рф") == "И***@пример.рф"
