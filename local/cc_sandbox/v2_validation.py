"""V2 (legacy API) errors and request rules: query parameters per operation, the contact body and the list body.

V2 errors are an array of {error_key, error_message}; validation messages name the property as a JSON pointer
(`#/email_addresses/0/email_address: ...`). The rules and their sources are in local/README.md ("V2").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.cc_sandbox.errors import ApiError, error_array

CONTACT_STATUSES = ("ALL", "ACTIVE", "UNCONFIRMED", "OPTOUT", "REMOVED")
ACTIONS = ("ACTION_BY_OWNER", "ACTION_BY_VISITOR")
ADDRESS_TYPES = {"PERSONAL": "home", "BUSINESS": "work"}
PHONES = {"home_phone": "home", "work_phone": "work", "cell_phone": "mobile"}
NAMES = ("first_name", "last_name", "job_title", "company_name")  # stored in the V3 core properties
V2_ONLY = ("prefix_name", "middle_name", "fax", "source")  # V3 has no such property: kept beside the store
CUSTOM_FIELD_NAMES = tuple(f"CustomField{i}" for i in range(1, 16))

EMAIL_MAX = 80
TEXT_MAX = 50
LINE_MAX = 100
CODE_MAX = 2
POSTAL_MAX = 25
NOTE_MAX = 500
CUSTOM_VALUE_MAX = 50
SOURCE_MAX = 50
MAX_LISTS = 50  # the store's (V3's) limit per contact
LIST_NAME_MAX = 255  # V3's documented limit: the V2 pages give none, and both APIs write the same lists
LIST_STATUSES = ("ACTIVE", "HIDDEN")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_READ_ONLY = ("id", "contact_id", "status", "confirmed", "created_date", "modified_date", "source_details")
_CONTACT_KEYS = frozenset(
    (*_READ_ONLY, *NAMES, *V2_ONLY, *PHONES, "email_addresses", "lists", "addresses", "custom_fields", "notes")
)
_EMAIL_KEYS = frozenset(
    ("id", "email_address", "status", "confirm_status", "opt_in_source", "opt_in_date", "opt_out_date")
    + ("opt_out_source",)
)
_LIST_KEYS = frozenset(("id", "status", "name", "contact_count", "created_date", "modified_date"))
_ADDRESS_KEYS = frozenset(
    ("id", "line1", "line2", "line3", "city", "address_type", "state", "state_code", "state_name")
    + ("country_code", "postal_code", "sub_postal_code")
)
_CUSTOM_FIELD_KEYS = frozenset(("name", "value", "label"))
_NOTE_KEYS = frozenset(("id", "note", "created_date", "modified_date"))

# Each operation's query parameters as the V2 reference declares them (api_key is checked before routing).
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "list_contacts": frozenset({"email", "status", "limit", "modified_since", "include_contact_id", "next"}),
    "get_contact": frozenset({"include_contact_id"}),
    "create_contact": frozenset({"action_by"}),
    "put_contact": frozenset({"action_by"}),
    "delete_contact": frozenset(),
    "get_lists": frozenset({"modified_since"}),
    "create_list": frozenset(),
}


def v2_error(status: int, key: str, *messages: str) -> ApiError:
    return ApiError(status, error_array(key, *messages))


def bad_request(message: str) -> ApiError:
    return v2_error(400, "http.status.bad_request", message)


def query_error(message: str) -> ApiError:
    return v2_error(400, "query.param.invalid", message)


def not_found(message: str) -> ApiError:
    return v2_error(404, "http.status.not_found", message)


def check_query(operation: str, query: dict[str, str]) -> None:
    """400 `query.param.invalid` for a parameter the operation does not declare, or a bad value of one it does."""
    allowed = QUERY_PARAMETERS[operation] | {"api_key"}
    for name in query:
        if name not in allowed:
            raise query_error(f"{name} is not a valid query parameter for this operation.")
    checks: dict[str, Callable[[str], bool]] = {
        "status": lambda v: v in CONTACT_STATUSES,
        "action_by": lambda v: v in ACTIONS,
        "include_contact_id": lambda v: v in ("true", "false"),
        "limit": lambda v: v.isdigit() and 1 <= int(v) <= 500,
    }
    for name, ok in checks.items():
        if name in query and not ok(query[name]):
            raise query_error(f"The value {query[name]!r} of {name} is not valid.")


@dataclass
class V2ContactInput:
    """A validated V2 contact body. Every V2 property is here; the ones not sent are None or empty."""

    email: str
    lists: list[str] | None  # V3 list ids, None when `lists` was not sent
    names: dict[str, str | None] = field(default_factory=dict)
    v2_only: dict[str, str | None] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)  # V3 phone kind -> number
    addresses: list[dict[str, Any]] = field(default_factory=list)  # V3 street_address shape
    custom_fields: dict[str, str] = field(default_factory=dict)  # CustomFieldN -> value
    note: str | None = None


class _Problems:
    """V2 answers the first problem it meets; the sandbox collects all and answers with the first one's key."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, pointer: str, message: str) -> None:
        self.items.append((key, f"{pointer}: {message}"))

    def raise_if_any(self) -> None:
        if self.items:
            key = self.items[0][0]
            raise v2_error(400, key, *(message for k, message in self.items if k == key))


def _unknown_keys(obj: dict[str, Any], allowed: frozenset[str], pointer: str, problems: _Problems) -> None:
    for key in obj:
        if key not in allowed:
            problems.add("json.field.invalid", f"{pointer}/{key}", "Not a recognized property.")


def _text(obj: dict[str, Any], key: str, max_len: int, pointer: str, problems: _Problems) -> str | None:
    """A string property; absent, null or blank gives None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add("json.type.invalid", f"{pointer}/{key}", "Value is not of type string.")
        return None
    if not value.strip():
        return None
    if len(value) > max_len:
        problems.add("json.max.length.violation", f"{pointer}/{key}", f"Value exceeds maximum length of {max_len}.")
    return value


def _array(body: dict[str, Any], key: str, problems: _Problems) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add("json.type.invalid", f"#/{key}", "Value is not of type array.")
        return []
    return value


def _objects(items: list[Any], key: str, problems: _Problems) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append((f"#/{key}/{i}", item))
        else:
            problems.add("json.type.invalid", f"#/{key}/{i}", "Value is not of type object.")
    return out


def _email(body: dict[str, Any], problems: _Problems) -> str:
    items = _objects(_array(body, "email_addresses", problems), "email_addresses", problems)
    if len(items) != 1:
        problems.add("json.field.email_addresses.value.invalid", "#/email_addresses", "Exactly one email required.")
        return ""
    pointer, item = items[0]
    _unknown_keys(item, _EMAIL_KEYS, pointer, problems)
    address = _text(item, "email_address", EMAIL_MAX, pointer, problems)
    if address is None:
        problems.add("json.field.email_addresses.value.invalid", f"{pointer}/email_address", "Value is required.")
        return ""
    if not _EMAIL_RE.match(address.strip()):
        problems.add("json.regex.mismatch", f"{pointer}/email_address", "Value does not match required pattern.")
    return address.strip()


def _lists(body: dict[str, Any], resolve_list: Callable[[str], str | None], problems: _Problems) -> list[str] | None:
    if "lists" not in body or body["lists"] is None:
        return None
    ids: list[str] = []
    for pointer, item in _objects(_array(body, "lists", problems), "lists", problems):
        _unknown_keys(item, _LIST_KEYS, pointer, problems)
        raw = item.get("id")
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            problems.add("json.type.invalid", f"{pointer}/id", "Value is not of type string.")
            continue
        list_id = resolve_list(str(raw))
        if list_id is None:
            problems.add("json.field.lists.value.invalid", f"{pointer}/id", f"List {raw} does not exist.")
        elif list_id not in ids:
            ids.append(list_id)
    if len(ids) > MAX_LISTS:
        problems.add("json.field.lists.value.invalid", "#/lists", f"At most {MAX_LISTS} lists.")
    return ids


def _addresses(body: dict[str, Any], problems: _Problems) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pointer, item in _objects(_array(body, "addresses", problems), "addresses", problems):
        _unknown_keys(item, _ADDRESS_KEYS, pointer, problems)
        kind = ADDRESS_TYPES.get(item.get("address_type"))  # type: ignore[arg-type]
        if kind is None:
            problems.add("json.field.addresses.value.invalid", f"{pointer}/address_type", "PERSONAL or BUSINESS.")
        elif any(a["kind"] == kind for a in out):
            problems.add("json.field.addresses.value.invalid", pointer, "At most one address of each address_type.")
        lines = [_text(item, f"line{n}", LINE_MAX, pointer, problems) for n in (1, 2, 3)]
        postal = _text(item, "postal_code", POSTAL_MAX, pointer, problems)
        sub_postal = _text(item, "sub_postal_code", POSTAL_MAX, pointer, problems)
        state_name = _text(item, "state", TEXT_MAX, pointer, problems)
        out.append(
            {
                "kind": kind,
                # V3 has one `street`: V2's lines are kept in it, one per line, so V2 reads them back unchanged.
                "street": "\n".join(line for line in lines if line) or None,
                "city": _text(item, "city", TEXT_MAX, pointer, problems),
                "state": _text(item, "state_code", CODE_MAX, pointer, problems) or state_name,
                "postal_code": "-".join(p for p in (postal, sub_postal) if p) or None,
                "country": _text(item, "country_code", CODE_MAX, pointer, problems),
            }
        )
    return out


def _custom_fields(body: dict[str, Any], problems: _Problems) -> dict[str, str]:
    out: dict[str, str] = {}
    for pointer, item in _objects(_array(body, "custom_fields", problems), "custom_fields", problems):
        _unknown_keys(item, _CUSTOM_FIELD_KEYS, pointer, problems)
        name = item.get("name")
        value = _text(item, "value", CUSTOM_VALUE_MAX, pointer, problems)
        if name not in CUSTOM_FIELD_NAMES:
            continue  # V2 ignores custom fields not named CustomField1..CustomField15
        if name in out:
            problems.add("json.field.custom_fields.value.invalid", f"{pointer}/name", f"{name} is sent twice.")
        if value is not None:
            out[str(name)] = value
    return out


def _note(body: dict[str, Any], problems: _Problems) -> str | None:
    kept: str | None = None
    for pointer, item in _objects(_array(body, "notes", problems), "notes", problems):
        _unknown_keys(item, _NOTE_KEYS, pointer, problems)
        text = _text(item, "note", NOTE_MAX, pointer, problems)
        kept = kept or text  # V2 keeps one note: the first one sent
    return kept


def contact_body(body: Any, resolve_list: Callable[[str], str | None]) -> V2ContactInput:
    """Validate a V2 contact (POST or PUT body); `resolve_list` maps a V2 list id to the V3 list id or None."""
    if not isinstance(body, dict):
        raise v2_error(400, "json.type.invalid", "#: Value is not of type object.")
    problems = _Problems()
    _unknown_keys(body, _CONTACT_KEYS, "#", problems)
    email = _email(body, problems)
    lists = _lists(body, resolve_list, problems)
    names = {name: _text(body, name, TEXT_MAX, "#", problems) for name in NAMES}
    v2_only = {name: _text(body, name, SOURCE_MAX if name == "source" else TEXT_MAX, "#", problems) for name in V2_ONLY}
    phones = {kind: number for key, kind in PHONES.items() if (number := _text(body, key, TEXT_MAX, "#", problems))}
    if "confirmed" in body and not isinstance(body["confirmed"], bool):
        problems.add("json.type.invalid", "#/confirmed", "Value is not of type boolean.")
    status = body.get("status")
    if status is not None and status not in CONTACT_STATUSES[1:]:
        problems.add("json.field.status.value.invalid", "#/status", "Not a valid contact status.")
    result = V2ContactInput(
        email=email,
        lists=lists,
        names=names,
        v2_only=v2_only,
        phones=phones,
        addresses=_addresses(body, problems),
        custom_fields=_custom_fields(body, problems),
        note=_note(body, problems),
    )
    problems.raise_if_any()
    return result


def list_body(body: Any) -> tuple[str, str]:
    """Validate a V2 list (POST /lists body): (name, status). Read-only properties sent back are ignored."""
    if not isinstance(body, dict):
        raise v2_error(400, "json.type.invalid", "#: Value is not of type object.")
    problems = _Problems()
    _unknown_keys(body, _LIST_KEYS, "#", problems)
    name = _text(body, "name", LIST_NAME_MAX, "#", problems)
    raw = body.get("name")
    if raw is None or (isinstance(raw, str) and not raw.strip()):  # a non-string is json.type.invalid already
        problems.add("json.field.name.value.invalid", "#/name", "Value is required.")
    status = body.get("status")
    if status not in LIST_STATUSES:
        problems.add("json.field.status.value.invalid", "#/status", f"Required: one of {', '.join(LIST_STATUSES)}.")
    problems.raise_if_any()
    assert name is not None and isinstance(status, str)
    return name, status
