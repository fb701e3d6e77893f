"""The pure V2 body builders: POST and full merged PUT bodies (docs/architecture.md §10).

A V2 PUT overwrites every property and nulls what it does not carry, so the PUT body is the stored record as
the lookup returned it (every field, list, custom field, address and note), with only what the sign-up carries
changed and its lists appended. V2 has no birthday, anniversary or tags, one phone per kind (home, work, cell),
at most one PERSONAL and one BUSINESS address, `CustomField1`..`CustomField15`, and keeps one note.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from signup_relay.errors import ValidationError
from signup_relay.models import Address, Signup
from signup_relay.upsert.bodies import clean_text

V2_TEXT_FIELDS = ("first_name", "last_name", "job_title", "company_name")
V2_PHONE_FIELDS = {"mobile": "cell_phone", "home": "home_phone", "work": "work_phone", "other": "home_phone"}
V2_ADDRESS_TYPES = {"home": "PERSONAL", "work": "BUSINESS", "other": "PERSONAL"}
# Longest values V2 takes where they are shorter than V3's (receive fits values to V3's limits): refused before the
# call with the reason, never a 400 after it.
V2_FIELD_LENGTHS = {
    "company_name": 50,
    "cell_phone": 50,
    "home_phone": 50,
    "work_phone": 50,
    "line1": 100,
    "city": 50,
    "postal_code": 25,
    "custom field value": 50,
}
V2_NOTE_LENGTH = 500
V2_CLEARABLE = {"first_name", "last_name", "job_title", "company_name"}


def contact_email(contact: Mapping[str, Any]) -> Mapping[str, Any]:
    """The contact's (first) email address entry: `email_address`, `status`, `opt_out_date`, ..."""
    addresses = contact.get("email_addresses") or []
    return addresses[0] if addresses and isinstance(addresses[0], Mapping) else {}


def _bounded(name: str, value: str) -> str:
    limit = V2_FIELD_LENGTHS.get(name)
    if limit is not None and len(value) > limit:
        raise ValidationError(f"{name} has {len(value)} characters; Constant Contact V2 allows {limit}")
    return value


def _new_fields(signup: Signup) -> dict[str, str]:
    """The core fields and the phone this sign-up sets (non-empty values only)."""
    fields = {name: _bounded(name, value) for name in V2_TEXT_FIELDS if (value := clean_text(getattr(signup, name)))}
    if phone := clean_text(signup.phone):
        name = V2_PHONE_FIELDS[signup.phone_kind]
        fields[name] = _bounded(name, phone)
    return fields


def _address_parts(address: Address) -> dict[str, str]:
    parts: dict[str, str] = {}
    if street := clean_text(address.street):
        parts["line1"] = _bounded("line1", street)
    if city := clean_text(address.city):
        parts["city"] = _bounded("city", city)
    if state := clean_text(address.state):
        # V2 takes a two-letter state_code (US, CA) or a state name elsewhere.
        if len(state) == 2 and state.isalpha():
            parts["state_code"] = state.upper()
        else:
            parts["state"] = state
    if postal := clean_text(address.postal_code):
        parts["postal_code"] = _bounded("postal_code", postal)
    if (country := clean_text(address.country)) and len(country) == 2 and country.isalpha():
        parts["country_code"] = country.upper()  # V2 has only the two-letter code: a country name is not sent
    return parts


def merge_addresses(existing: Sequence[Mapping[str, Any]], address: Address | None) -> list[dict[str, Any]]:
    """Stored addresses kept as they are; the new one merged part by part into the one of its type, else added."""
    addresses = [dict(item) for item in existing]
    if address is None or not (parts := _address_parts(address)):
        return addresses
    address_type = V2_ADDRESS_TYPES[address.kind]
    for current in addresses:
        if current.get("address_type") == address_type:
            current.update(parts)
            return addresses
    addresses.append({"address_type": address_type, **parts})  # at most one of each type: this type had none
    return addresses


def merge_custom_fields(existing: Sequence[Mapping[str, Any]], new_values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Merged by name (`CustomFieldN`): new values win, every other stored value is kept."""
    merged = {str(item.get("name")): dict(item) for item in existing if item.get("name")}
    for name, value in new_values.items():
        merged[name] = {"name": name, "value": _bounded("custom field value", value)}
    return list(merged.values())


def merge_lists(existing: Sequence[Mapping[str, Any]], list_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored list memberships, the sign-up's lists appended."""
    lists = [dict(item) for item in existing if item.get("id") is not None]
    known = {str(item["id"]) for item in lists}
    lists += [{"id": list_id} for list_id in dict.fromkeys(list_ids) if list_id not in known]
    return lists


def build_v2_create_body(
    signup: Signup, email: str, list_ids: Sequence[str], custom_fields: Mapping[str, str], note: str | None
) -> dict[str, Any]:
    """POST /contacts: the address, the sign-up's fields and lists, and the consent note."""
    body: dict[str, Any] = {"email_addresses": [{"email_address": email}], **_new_fields(signup)}
    if signup.address is not None and (parts := _address_parts(signup.address)):
        body["addresses"] = [{"address_type": V2_ADDRESS_TYPES[signup.address.kind], **parts}]
    if custom_fields:
        body["custom_fields"] = merge_custom_fields([], custom_fields)
    body["lists"] = [{"id": list_id} for list_id in dict.fromkeys(list_ids)]
    if note:
        body["notes"] = [{"note": note[:V2_NOTE_LENGTH]}]
    return body


def build_v2_merged_put(
    existing: Mapping[str, Any],
    signup: Signup,
    list_ids: Sequence[str],
    custom_fields: Mapping[str, str],
    note: str | None,
) -> dict[str, Any]:
    """PUT /contacts/{id}: the whole stored record, only what the sign-up carries changed, lists appended.

    A field the form sent empty is cleared only when the route allows it (`Signup.clear_fields`); V2 keeps one
    note, so the consent note is added only to a contact that has none (a stored note is never replaced).
    """
    body = copy.deepcopy(dict(existing))
    new_fields = _new_fields(signup)
    body.update(new_fields)
    for name in set(signup.clear_fields) & V2_CLEARABLE - new_fields.keys():
        body[name] = ""
    body["addresses"] = merge_addresses(existing.get("addresses") or [], signup.address)
    body["custom_fields"] = merge_custom_fields(existing.get("custom_fields") or [], custom_fields)
    body["lists"] = merge_lists(existing.get("lists") or [], list_ids)
    notes = [dict(item) for item in existing.get("notes") or []]
    if note and not notes:
        notes = [{"note": note[:V2_NOTE_LENGTH]}]
    body["notes"] = notes
    return body
