"""Request validation, rule by rule from the V3 spec: query parameters per operation, and the contact endpoints'
bodies (field lengths, enums, counts).

Every function collects problems into a `Problems` and the caller raises one 400 listing all of them, in the
real error shape (an array of {error_key, error_message}).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from local.cc_sandbox.errors import validation_error

PERMISSIONS = ("explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
SOURCES = ("Contact", "Account")
PHONE_KINDS = ("home", "work", "mobile", "other")
ADDRESS_KINDS = ("home", "work", "other")
NAME_FIELDS = ("first_name", "last_name", "job_title", "company_name")
CORE_FIELDS = (*NAME_FIELDS, "birthday_month", "birthday_day", "anniversary")
SUBRESOURCES = ("custom_fields", "phone_numbers", "street_addresses", "list_memberships", "taggings", "notes")

CONTACT_EMAIL_MAX = 80
SIGN_UP_EMAIL_MAX = 50
IMPORT_EMAIL_MAX = 50
NAME_MAX = 50
CUSTOM_FIELD_VALUE_MAX = 255
PHONE_MAX = 25
STREET_MAX = 255
ADDRESS_PART_MAX = 50
NOTE_MAX = 2000
OPT_OUT_REASON_MAX = 255
MAX_CUSTOM_FIELDS = 25
MAX_SIGN_UP_CUSTOM_FIELDS = 50
MAX_PHONES = 3
MAX_ADDRESSES = 3
MAX_LISTS = 50
MAX_TAGGINGS = 50
MAX_NOTES = 150

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# (regex, order of the captured groups as (year, month, day) indexes)
_ANNIVERSARY_FORMATS: tuple[tuple[re.Pattern[str], tuple[int, int, int]], ...] = (
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), (2, 0, 1)),  # MM/DD/YYYY, M/D/YYYY
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), (0, 1, 2)),  # YYYY/MM/DD, YYYY/M/D
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), (0, 1, 2)),  # YYYY-MM-DD, YYYY-M-D
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), (2, 0, 1)),  # M-D-YYYY, M-DD-YYYY, MM-DD-YYYY
)

_ADDRESS_KEYS = ("kind", "street", "city", "state", "postal_code", "country")


class Problems:
    """Validation messages collected over one request body."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise validation_error(*self.messages)


@dataclass(frozen=True)
class Catalog:
    """Which ids exist in the account (lists, custom fields, tags), for the unknown-id checks."""

    has_list: Callable[[str], bool]
    has_custom_field: Callable[[str], bool]
    has_tag: Callable[[str], bool]


@dataclass
class ContactInput:
    """A validated POST /contacts or PUT /contacts/{id} body. Subresources are None when not sent."""

    present: set[str]
    address: str | None = None
    permission: str | None = None
    opt_out_reason: str | None = None
    source: str | None = None  # create_source (POST) or update_source (PUT)
    core: dict[str, Any] = field(default_factory=dict)
    custom_fields: list[dict[str, Any]] | None = None
    phone_numbers: list[dict[str, Any]] | None = None
    street_addresses: list[dict[str, Any]] | None = None
    list_memberships: list[str] | None = None
    taggings: list[str] | None = None
    notes: list[dict[str, Any]] | None = None


@dataclass
class SignUpInput:
    """A validated POST /contacts/sign_up_form body. Only sent core fields are in `core`."""

    address: str
    list_memberships: list[str]
    core: dict[str, Any] = field(default_factory=dict)
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    phone_number: str | None = None
    street_address: dict[str, Any] | None = None


# Each operation's query parameters as the spec declares them; an operation not named here takes none. `cursor` is
# what `_links.next.href` carries. The ones in UNSUPPORTED_QUERY are valid, but this sandbox does not implement them.
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "list_contacts": frozenset(
        {
            "status",
            "email",
            "lists",
            "segment_id",
            "tags",
            "updated_after",
            "updated_before",
            "created_after",
            "created_before",
            "optout_after",
            "optout_before",
            "include",
            "sms_status",
            "include_count",
            "limit",
            "cursor",
        }
    ),
    "get_contact": frozenset({"include"}),
    "get_lists": frozenset(
        {
            "limit",
            "include_count",
            "include_membership_count",
            "name",
            "status",
            "channel_type",
            "include_sms_membership_count",
            "cursor",
        }
    ),
    "get_list": frozenset({"include_membership_count"}),
    "get_custom_fields": frozenset({"limit", "cursor"}),
    "get_tags": frozenset({"limit", "include_count", "cursor"}),
    "list_activities": frozenset({"limit", "state", "cursor"}),
    "contact_id_xrefs": frozenset({"sequence_ids"}),
    "list_id_xrefs": frozenset({"sequence_ids"}),
}
UNSUPPORTED_QUERY = frozenset(
    {"segment_id", "optout_after", "optout_before", "sms_status", "channel_type", "include_sms_membership_count"}
)


def check_query(operation: str, query: dict[str, str]) -> None:
    """400 for a query parameter the operation does not declare (or that this sandbox does not implement)."""
    allowed = QUERY_PARAMETERS.get(operation, frozenset())
    problems = Problems()
    for name in query:
        if name not in allowed:
            problems.add(f"{name} is not a valid query parameter for this operation.")
        elif name in UNSUPPORTED_QUERY:
            problems.add(f"{name} is a valid query parameter, but this sandbox does not support it.")
    problems.raise_if_any()


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value))


def check_keys(obj: dict[str, Any], allowed: Iterable[str], where: str, problems: Problems) -> None:
    allowed_set = set(allowed)
    for key in obj:
        if key not in allowed_set:
            problems.add(f"{where}{key} is not a recognized property.")


def opt_str(obj: dict[str, Any], key: str, max_len: int, problems: Problems, where: str = "") -> str | None:
    """A string property; absent, null or blank gives None."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(f"{where}{key} must be a string.")
        return None
    if not value.strip():
        return None
    if len(value) > max_len:
        problems.add(f"{where}{key} exceeds the maximum length of {max_len} characters.")
    return value


def _opt_int(obj: dict[str, Any], key: str, low: int, high: int, problems: Problems) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{key} must be an integer.")
        return None
    if not low <= value <= high:
        problems.add(f"{key} must be between {low} and {high}.")
        return None
    return value


def birthday(obj: dict[str, Any], problems: Problems) -> tuple[int | None, int | None]:
    month = _opt_int(obj, "birthday_month", 1, 12, problems)
    day = _opt_int(obj, "birthday_day", 1, 31, problems)
    month_sent, day_sent = obj.get("birthday_month") is not None, obj.get("birthday_day") is not None
    if month_sent != day_sent:
        problems.add("birthday_month and birthday_day must be sent together.")
        return None, None
    if month is not None and day is not None:
        try:
            date(2000, month, day)  # a leap year, so 2/29 is a valid birthday
        except ValueError:
            problems.add(f"birthday_month {month} and birthday_day {day} are not a valid date.")
            return None, None
    return month, day


def anniversary(obj: dict[str, Any], problems: Problems) -> str | None:
    value = opt_str(obj, "anniversary", 10, problems)
    if value is None:
        return None
    for pattern, (y, m, d) in _ANNIVERSARY_FORMATS:
        match = pattern.match(value)
        if match:
            parts = match.groups()
            try:
                date(int(parts[y]), int(parts[m]), int(parts[d]))
            except ValueError:
                break
            return value
    problems.add(
        "anniversary must be a valid date in one of the formats MM/DD/YYYY, M/D/YYYY, YYYY/MM/DD, YYYY/M/D, "
        "YYYY-MM-DD, YYYY-M-D, M-D-YYYY, M-DD-YYYY."
    )
    return None


def core_fields(obj: dict[str, Any], problems: Problems) -> dict[str, Any]:
    core: dict[str, Any] = {name: opt_str(obj, name, NAME_MAX, problems) for name in NAME_FIELDS}
    core["birthday_month"], core["birthday_day"] = birthday(obj, problems)
    core["anniversary"] = anniversary(obj, problems)
    return core


def id_list(
    obj: dict[str, Any],
    key: str,
    *,
    max_items: int,
    exists: Callable[[str], bool],
    kind: str,
    problems: Problems,
    min_items: int = 0,
    where: str = "",
) -> list[str] | None:
    value = obj.get(key)
    if value is None:
        if min_items:
            problems.add(f"{where}{key} is required and must contain at least {min_items} {kind}.")
        return None
    items = array(value, f"{where}{key}", max_items, problems)
    if items is None:
        return None
    if len(items) < min_items:
        problems.add(f"{where}{key} must contain at least {min_items} {kind}.")
    ids: list[str] = []
    for item in items:
        if not is_uuid(item):
            problems.add(f"{where}{key} contains {item!r}, which is not a valid {kind} (UUID).")
        elif not exists(item):
            problems.add(f"{where}{key} contains {kind} {item}, which does not exist.")
        elif item not in ids:
            ids.append(item)
    return ids


def required_list_ids(obj: dict[str, Any], key: str, catalog: Catalog, problems: Problems) -> list[str]:
    """A required array of 1 to MAX_LISTS existing list ids: a sign-up's list_memberships, an import's or a
    resubscribe's list_ids."""
    ids = id_list(
        obj, key, max_items=MAX_LISTS, exists=catalog.has_list, kind="list_id", problems=problems, min_items=1
    )
    return ids or []


def array(value: Any, name: str, max_items: int, problems: Problems) -> list[Any] | None:
    """An array property: None when absent or not an array (reported); too many items is reported, not cut."""
    if value is None:
        return None
    if not isinstance(value, list):
        problems.add(f"{name} must be an array.")
        return None
    if len(value) > max_items:
        problems.add(f"{name} must not contain more than {max_items} items.")
    return value


def objects(items: list[Any], name: str, problems: Problems) -> Iterator[tuple[str, dict[str, Any]]]:
    """The object items of an array with their `name[i].` prefixes; other items are reported as they come."""
    for i, item in enumerate(items):
        if isinstance(item, dict):
            yield f"{name}[{i}].", item
        else:
            problems.add(f"{name}[{i}] must be an object.")


def custom_field_values(
    value: Any, *, max_items: int, catalog: Catalog, problems: Problems, allow_choice_ids: bool
) -> list[dict[str, Any]] | None:
    items = array(value, "custom_fields", max_items, problems)
    if items is None:
        return None
    result: dict[str, dict[str, Any]] = {}
    allowed = ("custom_field_id", "value", "choice_ids") if allow_choice_ids else ("custom_field_id", "value")
    for where, item in objects(items, "custom_fields", problems):
        check_keys(item, allowed, where, problems)
        field_id = item.get("custom_field_id")
        if not isinstance(field_id, str) or not is_uuid(field_id):
            problems.add(f"{where}custom_field_id is required and must be a UUID.")
            continue
        if not catalog.has_custom_field(field_id):
            problems.add(f"{where}custom_field_id {field_id} does not exist.")
            continue
        if field_id in result:
            problems.add(f"{where}custom_field_id {field_id} is sent more than once.")
            continue
        text = opt_str(item, "value", CUSTOM_FIELD_VALUE_MAX, problems, where)
        result[field_id] = {"custom_field_id": field_id, "value": text or ""}
    return list(result.values())


def phone_numbers(value: Any, problems: Problems) -> list[dict[str, Any]] | None:
    items = array(value, "phone_numbers", MAX_PHONES, problems)
    if items is None:
        return None
    result = []
    for where, item in objects(items, "phone_numbers", problems):
        check_keys(item, ("phone_number", "kind"), where, problems)
        number = opt_str(item, "phone_number", PHONE_MAX, problems, where)
        if number is None:
            problems.add(f"{where}phone_number is required.")
        kind = item.get("kind")
        if kind is not None and kind not in PHONE_KINDS:
            problems.add(f"{where}kind must be one of {', '.join(PHONE_KINDS)}.")
        result.append({"phone_number": number, "kind": kind})
    return result


def street_address(item: Any, where: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        problems.add(f"{where.rstrip('.')} must be an object.")
        return None
    check_keys(item, _ADDRESS_KEYS, where, problems)
    kind = item.get("kind")
    if kind not in ADDRESS_KINDS:
        problems.add(f"{where}kind is required and must be one of {', '.join(ADDRESS_KINDS)}.")
    address: dict[str, Any] = {"kind": kind, "street": opt_str(item, "street", STREET_MAX, problems, where)}
    for part in ("city", "state", "postal_code", "country"):
        address[part] = opt_str(item, part, ADDRESS_PART_MAX, problems, where)
    return address


def street_addresses(value: Any, problems: Problems) -> list[dict[str, Any]] | None:
    items = array(value, "street_addresses", MAX_ADDRESSES, problems)
    if items is None:
        return None
    parsed = [street_address(item, f"street_addresses[{i}].", problems) for i, item in enumerate(items)]
    return [a for a in parsed if a is not None]


def notes(value: Any, problems: Problems) -> list[dict[str, Any]] | None:
    items = array(value, "notes", MAX_NOTES, problems)
    if items is None:
        return None
    result = []
    for where, item in objects(items, "notes", problems):
        check_keys(item, ("note_id", "created_at", "content"), where, problems)
        content = opt_str(item, "content", NOTE_MAX, problems, where)
        if content is None:
            problems.add(f"{where}content is required.")
        note_id = item.get("note_id")
        if note_id is not None and not is_uuid(note_id):
            problems.add(f"{where}note_id must be a UUID.")
        created = item.get("created_at")
        if created is not None and not isinstance(created, str):
            problems.add(f"{where}created_at must be an ISO-8601 date-time string.")
        result.append({"note_id": note_id, "created_at": created, "content": content})
    return result


_EMAIL_POST_KEYS = ("address", "permission_to_send")
_EMAIL_PUT_KEYS = (
    "address",
    "permission_to_send",
    "opt_out_reason",
    # read-only properties the spec lists on EmailAddressPut: accepted and ignored
    "created_at",
    "updated_at",
    "opt_in_date",
    "opt_out_source",
    "opt_out_date",
    "confirm_status",
)
_CONTACT_BODY_KEYS = (*CORE_FIELDS, "email_address", *SUBRESOURCES, "sms_channel")


def contact_body(body: Any, catalog: Catalog, *, is_put: bool) -> ContactInput:
    """Validate a ContactPostRequest (is_put=False) or ContactPutRequest (is_put=True)."""
    problems = Problems()
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    source_key = "update_source" if is_put else "create_source"
    check_keys(body, (*_CONTACT_BODY_KEYS, source_key), "", problems)
    result = ContactInput(present=set(body))
    source = body.get(source_key)
    if source not in SOURCES:
        problems.add(f"{source_key} is required and must be one of Contact, Account.")
    result.source = source if source in SOURCES else None

    email = body.get("email_address")
    if email is None:
        if is_put:
            problems.add("email_address is required: a contact's email address cannot be set to null.")
        elif not any(body.get(k) for k in ("first_name", "last_name", "sms_channel")):
            problems.add("At least one of email_address, first_name, last_name or sms_channel is required.")
    elif not isinstance(email, dict):
        problems.add("email_address must be an object.")
    else:
        check_keys(email, _EMAIL_PUT_KEYS if is_put else _EMAIL_POST_KEYS, "email_address.", problems)
        address = email.get("address")
        if not isinstance(address, str) or not address.strip():
            problems.add("email_address.address is required.")
        elif len(address) > CONTACT_EMAIL_MAX:
            problems.add(f"email_address.address exceeds the maximum length of {CONTACT_EMAIL_MAX} characters.")
        elif not is_email(address.strip()):
            problems.add(f"email_address.address {address!r} is not a valid email address.")
        else:
            result.address = address.strip()
        permission = email.get("permission_to_send")
        if permission is not None and permission not in PERMISSIONS:
            problems.add(f"email_address.permission_to_send must be one of {', '.join(PERMISSIONS)}.")
        else:
            result.permission = permission
        if is_put:
            result.opt_out_reason = opt_str(email, "opt_out_reason", OPT_OUT_REASON_MAX, problems, "email_address.")

    sms = body.get("sms_channel")
    if sms is not None and not isinstance(sms, dict):
        problems.add("sms_channel must be an object.")

    result.core = core_fields(body, problems)
    result.custom_fields = custom_field_values(
        body.get("custom_fields"),
        max_items=MAX_CUSTOM_FIELDS,
        catalog=catalog,
        problems=problems,
        allow_choice_ids=True,
    )
    result.phone_numbers = phone_numbers(body.get("phone_numbers"), problems)
    result.street_addresses = street_addresses(body.get("street_addresses"), problems)
    result.list_memberships = id_list(
        body, "list_memberships", max_items=MAX_LISTS, exists=catalog.has_list, kind="list_id", problems=problems
    )
    result.taggings = id_list(
        body, "taggings", max_items=MAX_TAGGINGS, exists=catalog.has_tag, kind="tag_id", problems=problems
    )
    result.notes = notes(body.get("notes"), problems)
    problems.raise_if_any()
    return result


_SIGN_UP_KEYS = (
    "email_address",
    *CORE_FIELDS,
    "phone_number",
    "list_memberships",
    "custom_fields",
    "street_address",
    "sms_channel",
)


def sign_up_body(body: Any, catalog: Catalog) -> SignUpInput:
    """Validate a ContactCreateOrUpdateInput (POST /contacts/sign_up_form)."""
    problems = Problems()
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    check_keys(body, _SIGN_UP_KEYS, "", problems)
    email = body.get("email_address")
    address = ""
    if email is None:
        problems.add("email_address is required (this sandbox does not support SMS-only contacts).")
    elif not isinstance(email, str):
        problems.add("email_address must be a string.")
    elif len(email) > SIGN_UP_EMAIL_MAX:
        problems.add(f"email_address exceeds the maximum length of {SIGN_UP_EMAIL_MAX} characters.")
    elif not is_email(email.strip()):
        problems.add(f"email_address {email!r} is not a valid email address.")
    else:
        address = email.strip()
    lists = required_list_ids(body, "list_memberships", catalog, problems)
    all_core = core_fields(body, problems)
    core = {k: v for k, v in all_core.items() if body.get(k) is not None}
    fields = custom_field_values(
        body.get("custom_fields"),
        max_items=MAX_SIGN_UP_CUSTOM_FIELDS,
        catalog=catalog,
        problems=problems,
        allow_choice_ids=False,
    )
    phone = opt_str(body, "phone_number", PHONE_MAX, problems)
    address_obj = None
    if body.get("street_address") is not None:
        address_obj = street_address(body["street_address"], "street_address.", problems)
    sms = body.get("sms_channel")
    if sms is not None and not isinstance(sms, dict):
        problems.add("sms_channel must be an object.")
    problems.raise_if_any()
    return SignUpInput(
        address=address,
        list_memberships=lists or [],
        core=core,
        custom_fields=fields or [],
        phone_number=phone,
        street_address=address_obj,
    )
