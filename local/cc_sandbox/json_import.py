"""POST /activities/contacts_json_import: the request (validated and cut to its limits) and one row applied.

Past 40,000 rows or 4,000,000 bytes the excess is dropped without an error, as the API reference says; the byte cut
keeps a row only when its whole JSON object ends within the first 4,000,000 bytes of the body as sent.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any

from local.cc_sandbox.errors import validation_error
from local.cc_sandbox.store import AccountStore
from local.cc_sandbox.validation import (
    ADDRESS_PART_MAX,
    IMPORT_EMAIL_MAX,
    MAX_CUSTOM_FIELDS,
    MAX_LISTS,
    NAME_FIELDS,
    NAME_MAX,
    STREET_MAX,
    Problems,
    anniversary,
    birthday,
    check_keys,
    is_email,
    opt_str,
    required_list_ids,
)

MAX_IMPORT_ROWS = 40_000
MAX_IMPORT_BYTES = 4_000_000  # "4 megabytes": the decimal reading, the smaller of the two
MAX_ROW_PHONES = 3
IMPORT_PHONE_MAX = 50
CUSTOM_FIELD_VALUE_MAX = 255

_PHONES = {"phone": "other", "home_phone": "home", "work_phone": "work", "mobile_phone": "mobile"}
_PHONES["other_phone"] = "other"
_ADDRESS_PARTS = {"street": "street", "street2": "street2", "city": "city", "state": "state"}
_ADDRESS_PARTS |= {"zip": "postal_code", "country": "country"}
_ADDRESS_PREFIXES = {"": "home", "home_": "home", "work_": "work", "other_": "other"}
_KEYS = {
    "email",
    *NAME_FIELDS,
    "birthday_month",
    "birthday_day",
    "anniversary",
    *_PHONES,
    "home country",  # (sic) the spec spells this one with a blank
    "sms_number",
    "sms_consent_date",
} | {prefix + part for prefix in _ADDRESS_PREFIXES for part in _ADDRESS_PARTS}

_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class ImportRequest:
    rows: list[dict[str, Any]]  # the rows that fit the limits, in order
    list_ids: list[str]


def read_import(body: Any, raw: bytes, store: AccountStore) -> ImportRequest:
    """Validate the request (400 for a bad body or list_ids) and cut `import_data` to 4,000,000 bytes / 40,000 rows."""
    problems = Problems()
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    check_keys(body, ("import_data", "list_ids", "sms_permission_to_send"), "", problems)
    rows = body.get("import_data")
    if not isinstance(rows, list) or not rows:
        problems.add("import_data is required and must be a non-empty array.")
        rows = []
    list_ids = required_list_ids(body, "list_ids", store.catalog, problems)
    if body.get("sms_permission_to_send") not in (None, "explicit", "not_set"):
        problems.add("sms_permission_to_send must be explicit or not_set.")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add(f"import_data[{i}] must be an object.")
            continue
        for key in row:
            if key not in _KEYS and not key.startswith("cf:"):
                problems.add(f"import_data[{i}].{key} is not a recognized property.")
    problems.raise_if_any()
    fitting = sum(1 for end in _row_ends(raw) if end <= MAX_IMPORT_BYTES) if len(raw) > MAX_IMPORT_BYTES else len(rows)
    kept = min(fitting, MAX_IMPORT_ROWS)
    return ImportRequest(rows[:kept], list_ids)


def _row_ends(raw: bytes) -> list[int]:
    """The byte offset just past each `import_data` element of a body that json.loads already accepted."""
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[bom:].decode("utf-8")
    except UnicodeDecodeError:
        raise validation_error("The request body must be UTF-8.") from None
    decoder = json.JSONDecoder()
    pos = _skip(text, 0) + 1  # past "{"
    ends: list[int] = []
    while True:
        pos = _skip(text, pos)
        if text[pos] == "}":
            break
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # past ":"
        if key == "import_data" and text[pos] == "[":
            ends, pos = [], pos + 1  # a repeated key: the last one wins, as in json.loads
            while True:
                pos = _skip(text, pos)
                if text[pos] == "]":
                    pos += 1
                    break
                _value, pos = decoder.raw_decode(text, pos)
                ends.append(pos)
                pos = _skip(text, pos)
                if text[pos] == ",":
                    pos += 1
        else:
            _value, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos += 1
    if text.isascii():
        return [end + bom for end in ends]
    byte_ends, offset, previous = [], bom, 0
    for end in ends:
        offset += len(text[previous:end].encode())
        byte_ends.append(offset)
        previous = end
    return byte_ends


def _skip(text: str, pos: int) -> int:
    """The position of the next character that is not JSON whitespace."""
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def apply_row(
    store: AccountStore,
    index: int,
    row: dict[str, Any],
    list_ids: list[str],
    status: dict[str, int],
    errors: list[str],
    at: float,
) -> None:
    """Import one row at time `at`: create implicit, or update only what it sends; refused rows go to `errors`."""
    problems = Problems()
    label = f"Row {index + 1}"
    email = row.get("email")
    if not isinstance(email, str) or not email.strip() or not is_email(email.strip()):
        errors.append(f"{label}: email is missing or not a valid email address.")
        status["correctable_count"] += 1
        return
    email = email.strip()
    if len(email) > IMPORT_EMAIL_MAX:
        problems.add(f"email exceeds the maximum length of {IMPORT_EMAIL_MAX} characters.")
    sent_core: dict[str, Any] = {}
    for name in NAME_FIELDS:
        value = opt_str(row, name, NAME_MAX, problems)
        if value is not None:
            sent_core[name] = value
    month, day = birthday(row, problems)
    if month is not None:
        sent_core |= {"birthday_month": month, "birthday_day": day}
    ann = anniversary(row, problems)
    if ann is not None:
        sent_core["anniversary"] = ann
    phones: list[tuple[str, str]] = []
    for key, kind in _PHONES.items():
        number = opt_str(row, key, IMPORT_PHONE_MAX, problems)
        if number is not None:
            phones.append((kind, number))
    if len(phones) > MAX_ROW_PHONES:
        problems.add(f"a contact can be imported with at most {MAX_ROW_PHONES} phone numbers.")
    addresses = _addresses(row, problems)
    fields = _custom_fields(row, store, problems)
    if problems.messages:
        errors.extend(f"{label}: {m}" for m in problems.messages)
        status["error_count"] += 1
        return
    c = store.find_by_email(email)
    merged_fields = {f["custom_field_id"]: f for f in c.custom_fields} if c else {}
    merged_fields.update({k: {"custom_field_id": k, "value": v} for k, v in fields.items()})
    current = [] if c is None or c.deleted_at is not None else c.list_memberships
    lists = current + [x for x in list_ids if x not in current]
    if len(merged_fields) > MAX_CUSTOM_FIELDS:
        problems.add(f"a contact can hold at most {MAX_CUSTOM_FIELDS} custom fields.")
    if len(lists) > MAX_LISTS and (c is None or c.permission != "unsubscribed"):
        problems.add(f"a contact can belong to at most {MAX_LISTS} lists.")
    if problems.messages:
        errors.extend(f"{label}: {m}" for m in problems.messages)
        status["error_count"] += 1
        return
    if c is None:
        c = store.add_contact(email, "implicit", source="Account", via="contacts_json_import", now=at)
    c.core.update(sent_core)
    c.custom_fields = list(merged_fields.values())
    for kind, number in phones:
        kept = [p for p in c.phone_numbers if p["kind"] != kind]
        c.phone_numbers = (kept + [store.phone_entry(number, kind, c.phone_numbers)])[-MAX_ROW_PHONES:]
    for kind, parts in addresses.items():
        old = next((a for a in c.street_addresses if a.get("kind") == kind), {})
        merged = {k: old.get(k) for k in ("street", "city", "state", "postal_code", "country")} | parts
        kept = [a for a in c.street_addresses if a.get("kind") != kind]
        c.street_addresses = (kept + [store.address_entry({"kind": kind, **merged}, c.street_addresses)])[-3:]
    if c.permission == "unsubscribed":
        status["cannot_add_to_list_count"] += 1
    else:
        c.list_memberships = lists
        c.deleted_at = None
    c.update_source = "Account"
    c.updated_at = at
    status["person_count"] += 1


def _addresses(row: dict[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    """The row's addresses by kind (`street2` joins `street`); unprefixed columns are the home address."""
    addresses: dict[str, dict[str, Any]] = {}
    for prefix, kind in _ADDRESS_PREFIXES.items():
        parts: dict[str, Any] = {}
        for key, target in _ADDRESS_PARTS.items():
            source_key = prefix + key
            if source_key == "home_country" and source_key not in row:
                source_key = "home country"
            limit = STREET_MAX if key.startswith("street") else ADDRESS_PART_MAX
            value = opt_str(row, source_key, limit, problems)
            if value is not None:
                parts[target] = value
        if parts:
            if "street2" in parts:
                parts["street"] = " ".join(p for p in (parts.get("street"), parts.pop("street2")) if p)
            addresses.setdefault(kind, {}).update(parts)
    return addresses


def _custom_fields(row: dict[str, Any], store: AccountStore, problems: Problems) -> dict[str, str]:
    """`cf:<name>` values by custom_field_id; the field must exist (matched by its exact name), 25 at most."""
    by_name = {f.name: f.custom_field_id for f in store.custom_fields.values()}
    fields: dict[str, str] = {}
    names = [key[3:] for key in row if key.startswith("cf:")]
    if len(names) > MAX_CUSTOM_FIELDS:
        problems.add(f"a contact can be imported with at most {MAX_CUSTOM_FIELDS} custom fields.")
    for name in names:
        if name not in by_name:
            problems.add(f"custom field {name!r} does not exist.")
            continue
        text = opt_str(row, f"cf:{name}", CUSTOM_FIELD_VALUE_MAX, problems)
        if text is not None:
            fields[by_name[name]] = text
    return fields
