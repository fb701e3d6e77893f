"""The pure body builders of the upsert: sign_up_form, POST and merged PUT bodies, and the consent note.

No I/O: each takes the sign-up, the resolved ids and (for a PUT) the stored contact, and returns the JSON body.
A merged PUT keeps every stored field it does not change; lists, custom fields and tags only grow; every
body is bounded by Constant Contact's limits (`constant_contact.limits`) before it is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from signup_relay.constant_contact.limits import (
    MAX_ADDRESSES,
    MAX_CUSTOM_FIELDS,
    MAX_LISTS,
    MAX_NOTE_LENGTH,
    MAX_NOTES,
    MAX_PHONES,
    MAX_TAGS,
)
from signup_relay.emails import normalize_email
from signup_relay.errors import ValidationError
from signup_relay.models import Address, Signup, to_data

TEXT_FIELDS = ("first_name", "last_name", "job_title", "company_name", "anniversary")
BIRTHDAY_CLEAR_NAMES = frozenset({"birthday", "birthday_month", "birthday_day"})
ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")


@dataclass(frozen=True)
class ResolvedIds:
    """The sign-up's names turned into Constant Contact ids."""

    list_ids: list[str] = field(default_factory=list)
    custom_field_values: dict[str, str] = field(default_factory=dict)  # custom_field_id -> non-empty value
    tag_ids: list[str] = field(default_factory=list)


def clean_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def new_text_fields(signup: Signup) -> dict[str, str]:
    return {name: value for name in TEXT_FIELDS if (value := clean_text(getattr(signup, name))) is not None}


def new_birthday(signup: Signup) -> tuple[int, int] | None:
    # The API accepts birthday_month and birthday_day only together.
    if signup.birthday_month is not None and signup.birthday_day is not None:
        return signup.birthday_month, signup.birthday_day
    return None


def address_parts(address: Mapping[str, Any] | Address | None) -> dict[str, str]:
    if address is None:
        return {}
    source = to_data(address) if isinstance(address, Address) else address
    return {part: value for part in ADDRESS_PARTS if (value := clean_text(source.get(part))) is not None}


def build_consent_note(signup: Signup) -> dict[str, str] | None:
    """A note recording who agreed to what, when, where (None when the sign-up carries no evidence)."""
    evidence = signup.consent_evidence
    if evidence is None:
        return None
    at = evidence.at if evidence.at.tzinfo else evidence.at.replace(tzinfo=UTC)
    at_text = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [f"Consent ({signup.consent.value}) at {at_text}", f"source {evidence.source}"]
    if evidence.form:
        parts.append(f"form {evidence.form!r}")
    if signup.route:
        parts.append(f"route {signup.route}")
    if evidence.ip:
        parts.append(f"IP {evidence.ip}")
    if signup.delivery_id:
        parts.append(f"delivery {signup.delivery_id}")
    content = ", ".join(parts) + "."
    if evidence.text:
        content += f' Wording: "{evidence.text}"'
    return {"created_at": at_text, "content": content[:MAX_NOTE_LENGTH]}


def build_sign_up_form_body(signup: Signup, email: str, ids: ResolvedIds) -> dict[str, Any]:
    """POST /contacts/sign_up_form: a partial update, so only what the form actually sent."""
    body: dict[str, Any] = {"email_address": email, **new_text_fields(signup)}
    if phone := clean_text(signup.phone):
        body["phone_number"] = phone
    if parts := address_parts(signup.address):
        body["street_address"] = {"kind": signup.address.kind if signup.address else "home", **parts}
    if birthday := new_birthday(signup):
        body["birthday_month"], body["birthday_day"] = birthday
    # Bounded like the PUT body (found by a property test): a form's free list field can name more lists than
    # the schema's 1-50, and a contact holds at most 25 custom fields; refused before the call, not by a 400.
    body["list_memberships"] = _bounded(list(ids.list_ids), MAX_LISTS, "list memberships")
    if ids.custom_field_values:
        body["custom_fields"] = _bounded(
            [{"custom_field_id": k, "value": v} for k, v in ids.custom_field_values.items()],
            MAX_CUSTOM_FIELDS,
            "custom fields",
        )
    return body


def build_create_body(
    signup: Signup, email: str, ids: ResolvedIds, *, permission: str, note: Mapping[str, str] | None
) -> dict[str, Any]:
    """POST /contacts with `create_source: Contact` (the person submitted the form)."""
    body: dict[str, Any] = {
        "email_address": {"address": email, "permission_to_send": permission},
        **new_text_fields(signup),
        "create_source": "Contact",
    }
    if birthday := new_birthday(signup):
        body["birthday_month"], body["birthday_day"] = birthday
    if ids.custom_field_values:
        # Bounded like merge_custom_fields (found by a property test): 26+ mapped fields meant a 400 from the API.
        body["custom_fields"] = _bounded(
            [{"custom_field_id": k, "value": v} for k, v in ids.custom_field_values.items()],
            MAX_CUSTOM_FIELDS,
            "custom fields",
        )
    if phone := clean_text(signup.phone):
        body["phone_numbers"] = [{"phone_number": phone, "kind": signup.phone_kind}]
    if parts := address_parts(signup.address):
        body["street_addresses"] = [{"kind": signup.address.kind if signup.address else "home", **parts}]
    body["list_memberships"] = _bounded(ids.list_ids, MAX_LISTS, "list memberships")
    if ids.tag_ids:
        body["taggings"] = _bounded(ids.tag_ids, MAX_TAGS, "tags")
    if note:
        body["notes"] = [dict(note)]
    return body


def merge_phone_numbers(existing: Sequence[Mapping[str, Any]], number: str | None, kind: str) -> list[dict[str, str]]:
    """Existing phones kept; the new one replaces the same kind, else is added while there is room (max 3)."""
    phones = [
        {"phone_number": str(p["phone_number"]), "kind": str(p.get("kind") or "other")}
        for p in existing
        if clean_text(p.get("phone_number"))
    ]
    new = clean_text(number)
    if new is None or not is_new_phone(phones, new):
        return phones
    for phone in phones:
        if phone["kind"] == kind:
            phone["phone_number"] = new
            return phones
    if len(phones) < MAX_PHONES:
        phones.append({"phone_number": new, "kind": kind})
    return phones


def is_new_phone(existing: Sequence[Mapping[str, Any]], number: str | None) -> bool:
    """True when `number` is sent and none of the stored phones is that number."""
    new = clean_text(number)
    return new is not None and all(_digits(str(p.get("phone_number") or "")) != _digits(new) for p in existing)


def merge_street_addresses(existing: Sequence[Mapping[str, Any]], address: Address | None) -> list[dict[str, str]]:
    """Existing addresses kept; the new one is merged part by part into the same kind, else added (max 3)."""
    addresses = [{"kind": str(a.get("kind") or "other"), **address_parts(a)} for a in existing]
    new_parts = address_parts(address)
    if address is None or not new_parts:
        return addresses
    for current in addresses:
        if current["kind"] == address.kind:
            current.update(new_parts)
            return addresses
    if len(addresses) < MAX_ADDRESSES:
        addresses.append({"kind": address.kind, **new_parts})
    return addresses


def merge_custom_fields(existing: Sequence[Mapping[str, Any]], new_values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Merged by custom_field_id: new values win, every other stored value is kept."""
    merged: dict[str, dict[str, Any]] = {}
    for item in existing:
        field_id = item.get("custom_field_id")
        if not field_id:
            continue
        entry: dict[str, Any] = {"custom_field_id": field_id}
        if item.get("value") is not None:
            entry["value"] = item["value"]
        if item.get("choice_ids"):
            entry["choice_ids"] = list(item["choice_ids"])
        merged[field_id] = entry
    for field_id, value in new_values.items():
        merged[field_id] = {"custom_field_id": field_id, "value": value}
    return _bounded(list(merged.values()), MAX_CUSTOM_FIELDS, "custom fields")


def merge_notes(existing: Sequence[Mapping[str, Any]], note: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """Existing notes kept as they are; the new note is added unless identical (a redelivery) or full."""
    notes = [
        {key: item[key] for key in ("note_id", "created_at", "content") if item.get(key) is not None}
        for item in existing
    ]
    if note and len(notes) < MAX_NOTES and all(n.get("content") != note["content"] for n in notes):
        notes.insert(0, dict(note))  # the API lists notes most recent first
    return notes


def _union(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*existing, *new]))


def _bounded(items: list[Any], limit: int, what: str) -> list[Any]:
    if len(items) > limit:
        raise ValidationError(f"the contact would have {len(items)} {what}; Constant Contact allows {limit}")
    return items


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit()) or phone


def build_merged_put(
    existing: Mapping[str, Any],
    signup: Signup,
    ids: ResolvedIds,
    *,
    update_source: str,
    permission: str | None = None,
    include_lists: bool = True,
    note: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """PUT /contacts/{id} body: the stored record merged with the sign-up, never blanking what was not sent.

    Core fields left out of a PUT become null, so every stored one is sent back unless the form sent a new
    non-empty value, or sent it empty and the route lists it in `clear_fields`. Subresources are unions
    (lists, tags), merged by id (custom fields) or by kind (phones, addresses, at most 3 each).
    `permission=None` keeps the stored permission_to_send; `include_lists=False` leaves lists untouched.
    """
    stored_email = existing.get("email_address") or {}
    body: dict[str, Any] = {
        "email_address": {
            "address": stored_email.get("address") or normalize_email(signup.email),
            "permission_to_send": permission or stored_email.get("permission_to_send") or "implicit",
        }
    }
    new_text = new_text_fields(signup)
    clear = set(signup.clear_fields)
    for name in TEXT_FIELDS:
        if name in new_text:
            body[name] = new_text[name]
        elif name not in clear and clean_text(existing.get(name)) is not None:
            body[name] = existing[name]
    birthday = new_birthday(signup)
    if birthday is None and not clear & BIRTHDAY_CLEAR_NAMES:
        month, day = existing.get("birthday_month"), existing.get("birthday_day")
        birthday = (int(month), int(day)) if month and day else None
    if birthday:
        body["birthday_month"], body["birthday_day"] = birthday
    body["update_source"] = update_source

    custom_fields = merge_custom_fields(existing.get("custom_fields") or [], ids.custom_field_values)
    if custom_fields:
        body["custom_fields"] = custom_fields
    phones = merge_phone_numbers(existing.get("phone_numbers") or [], signup.phone, signup.phone_kind)
    if phones:
        body["phone_numbers"] = phones
    addresses = merge_street_addresses(existing.get("street_addresses") or [], signup.address)
    if addresses:
        body["street_addresses"] = addresses
    if include_lists:
        body["list_memberships"] = _bounded(
            _union(existing.get("list_memberships") or [], ids.list_ids), MAX_LISTS, "list memberships"
        )
    taggings = _bounded(_union(existing.get("taggings") or [], ids.tag_ids), MAX_TAGS, "tags")
    if taggings:
        body["taggings"] = taggings
    notes = merge_notes(existing.get("notes") or [], note)
    if notes:
        body["notes"] = notes
    return body
