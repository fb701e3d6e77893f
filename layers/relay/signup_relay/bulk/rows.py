"""Import rows for `contacts_json_import`: only what the sign-ups carried, never an empty value.

The import changes only the properties sent
(https://v3.developer.constantcontact.com/api_guide/import_contacts.html), so a row built from a person's
sign-ups (oldest first, each later non-empty value winning) never blanks a stored field. Custom fields are
addressed by name (`cf:<name>`); consent evidence, which an import cannot write as a note, goes in one custom
field of its own (docs/architecture.md §11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from signup_relay.constant_contact.limits import CUSTOM_FIELD_VALUE_LENGTH, MAX_CUSTOM_FIELDS
from signup_relay.models import Signup
from signup_relay.upsert.bodies import address_parts, build_consent_note, clean_text, new_birthday, new_text_fields

# The custom field that keeps the latest consent evidence of an imported contact (created when missing).
CONSENT_FIELD_LABEL = "signup_relay_consent"
ADDRESS_KEYS = {"street": "street", "city": "city", "state": "state", "postal_code": "zip", "country": "country"}


class RowRefused(Exception):
    """This person's sign-ups cannot be carried by an import row as the per-contact policy would apply them."""


def consent_evidence_text(signup: Signup) -> str | None:
    """The consent note's text for the evidence custom field, None when there is nothing to record.

    RowRefused when it does not fit a custom field (255 characters): that sign-up keeps its note per contact.
    """
    if not signup.options.record_consent_note:
        return None
    note = build_consent_note(signup)
    if note is None:
        return None
    if len(note["content"]) > CUSTOM_FIELD_VALUE_LENGTH:
        raise RowRefused("the consent evidence is longer than a custom field holds")
    return note["content"]


def import_row(
    email: str,
    signups: Sequence[Signup],
    custom_field_values: Sequence[Mapping[str, str]],
    *,
    consent_field: str | None,
) -> dict[str, Any]:
    """One person's row. `custom_field_values[i]` maps custom field *names* to the values of `signups[i]`;
    `consent_field` is the evidence field's name (None: record no evidence)."""
    row: dict[str, Any] = {"email": email}
    for signup, fields in zip(signups, custom_field_values, strict=True):
        row.update(new_text_fields(signup))
        if birthday := new_birthday(signup):
            row["birthday_month"], row["birthday_day"] = birthday
        if (phone := clean_text(signup.phone)) is not None:
            row[f"{signup.phone_kind}_phone"] = phone
        if signup.address is not None:
            for part, value in address_parts(signup.address).items():
                row[f"{signup.address.kind}_{ADDRESS_KEYS[part]}"] = value
        for name, value in fields.items():
            if (text := clean_text(value)) is not None:
                row[f"cf:{name}"] = text
        if consent_field and (evidence := consent_evidence_text(signup)):
            row[f"cf:{consent_field}"] = evidence
    if sum(1 for key in row if key.startswith("cf:")) > MAX_CUSTOM_FIELDS:
        raise RowRefused(f"more than {MAX_CUSTOM_FIELDS} custom fields")
    return row
