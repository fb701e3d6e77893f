"""Read back what an import did and name each row's outcome truthfully.

`GET /contacts?updated_after=<the import's created_at>&status=all` (deleted contacts included), 500 a page,
with the subresources needed to compare. A row is verified when the contact holds every value it sent, is on
every list it named (unless unsubscribed: the import cannot add those to lists) and is not deleted; anything
else sends the person per contact. The outcome comes from the state before (`state.py`) and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from signup_relay.bulk.plan import Person
from signup_relay.bulk.rows import ADDRESS_KEYS
from signup_relay.bulk.state import PAGE, ContactPages, of_addresses
from signup_relay.clock import parse_datetime
from signup_relay.models import Outcome
from signup_relay.upsert.bodies import TEXT_FIELDS
from signup_relay.upsert.policy import ContactState, contact_state

INCLUDE = "custom_fields,list_memberships,phone_numbers,street_addresses,taggings"


def read_back(client: ContactPages, emails: set[str], since: str) -> dict[str, dict[str, Any]]:
    """The contacts updated since `since` (ISO-8601, Constant Contact's clock) whose address is in `emails`."""
    params: dict[str, str | int] = {"updated_after": since, "status": "all", "include": INCLUDE, "limit": PAGE}
    return dict(of_addresses(client.iter_contacts(params), emails))


def mismatch(person: Person, contact: Mapping[str, Any] | None) -> str | None:
    """Why the contact does not show this row as applied; None when it does."""
    if contact is None:
        return "not found after the import"
    row = person.row
    state = contact_state(contact)
    if state in (ContactState.DELETED, ContactState.DELETED_UNSUBSCRIBED):
        return "still deleted after the import"
    for name in (*TEXT_FIELDS, "birthday_month", "birthday_day"):
        if name in row and name != "anniversary" and contact.get(name) != row[name]:
            return f"{name} not applied"
    if "anniversary" in row and not contact.get("anniversary"):
        return "anniversary not applied"
    stored_fields = {f.get("custom_field_id"): f.get("value") for f in contact.get("custom_fields") or []}
    for name, field_id in person.field_ids.items():
        if f"cf:{name}" in row and stored_fields.get(field_id) != row[f"cf:{name}"]:
            return "a custom field not applied"
    phones = {(p.get("kind"), p.get("phone_number")) for p in contact.get("phone_numbers") or []}
    for key, value in row.items():
        if key.endswith("_phone") and (key.removesuffix("_phone"), value) not in phones:
            return "the phone number not applied"
    addresses = {a.get("kind"): a for a in contact.get("street_addresses") or []}
    for part, key in ADDRESS_KEYS.items():
        for kind in ("home", "work", "other"):
            if f"{kind}_{key}" in row and (addresses.get(kind) or {}).get(part) != row[f"{kind}_{key}"]:
                return "the address not applied"
    if state is not ContactState.UNSUBSCRIBED:
        memberships = set(contact.get("list_memberships") or ())
        if not set(person.list_ids) <= memberships:
            return "not on every list"
    return None


def outcome_of(person: Person, contact: Mapping[str, Any], imported_at: datetime) -> tuple[Outcome, str | None]:
    """created / revived / kept_unsubscribed / updated, from the state before the import and after it."""
    if contact_state(contact) is ContactState.UNSUBSCRIBED or person.prior is ContactState.UNSUBSCRIBED:
        return Outcome.KEPT_UNSUBSCRIBED, "unsubscribed: profile updated by the import, permission and lists untouched"
    if person.prior is ContactState.DELETED:
        return Outcome.REVIVED, "was deleted; the import restored it onto the lists"
    created = parse_datetime(contact.get("created_at"))
    if created is not None and created >= imported_at:
        return Outcome.CREATED, None
    return Outcome.UPDATED, None
