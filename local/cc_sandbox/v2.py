"""The V2 (legacy API) view of the sandbox account: the same contacts and lists as V3, seen and changed through V2.

One contact is one `StoredContact`; V2 reads and writes it under the store lock. What V3 has no property for (V2's
`prefix_name`, `middle_name`, `fax`, `source` and the V2-only custom fields `CustomField1`..`CustomField15`) is kept
here, beside the store. V2 ids are numeric strings: the contact's and the list's sequence numbers in the account,
the ids V3 cross-references with its UUIDs. Rules and sources: local/README.md ("V2").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from local.cc_sandbox.clock import iso
from local.cc_sandbox.errors import ApiError, validation_error
from local.cc_sandbox.store import AccountStore, ContactList, ListRefused, StoredContact
from local.cc_sandbox.v2_validation import (
    ADDRESS_TYPES,
    NAMES,
    PHONES,
    V2_ONLY,
    V2ContactInput,
    bad_request,
    contact_body,
    list_body,
    not_found,
    query_error,
    v2_error,
)

NEVER_OPTED_OUT = "1969-12-31T19:00:00.000Z"  # what V2 shows as opt_out_date of a contact that never opted out
FIRST_CONTACT_SEQUENCE = 1001
FIRST_LIST_SEQUENCE = 1
MAX_XREFS = 500
VISITOR = "ACTION_BY_VISITOR"
OWNER = "ACTION_BY_OWNER"
_V2_KINDS = {kind: address_type for address_type, kind in ADDRESS_TYPES.items()}
_V2_PHONES = {kind: key for key, kind in PHONES.items()}
_CONFIRM = {"pending": "UNCONFIRMED", "confirmed": "CONFIRMED"}


@dataclass
class V2Extras:
    """A contact's V2 properties that V3 does not have."""

    fields: dict[str, str | None] = field(default_factory=dict)  # prefix_name, middle_name, fax, source
    custom_fields: dict[str, str] = field(default_factory=dict)  # CustomFieldN -> value


def _action_source(action_by: str) -> str:
    """The V3 source (create/update/opt-in) of a V2 action."""
    return "Contact" if action_by == VISITOR else "Account"


class V2Account:
    """V2 operations on the sandbox's `AccountStore`; every public method takes the store lock."""

    def __init__(self, store: AccountStore) -> None:
        self.store = store
        self._contact_ids: dict[str, str] = {}  # V3 contact_id -> V2 id
        self._contacts_by_id: dict[str, str] = {}
        self._list_ids: dict[str, str] = {}  # V3 list_id -> V2 id
        self._lists_by_id: dict[str, str] = {}
        self._extras: dict[str, V2Extras] = {}
        self._list_status: dict[str, str] = {}  # V3 list_id -> V2 status, when not ACTIVE (V3 has no such property)

    # --- ids -----------------------------------------------------------------------------------

    def _sync_ids(self) -> None:
        """Number contacts and lists in the order the account created them (the store keeps insertion order)."""
        # Neither is ever removed from the store (deletes are soft), so only the tail can be new.
        for contact_id in islice(self.store.contacts, len(self._contact_ids), None):
            number = str(FIRST_CONTACT_SEQUENCE + len(self._contact_ids))
            self._contact_ids[contact_id], self._contacts_by_id[number] = number, contact_id
        for list_id in islice(self.store.lists, len(self._list_ids), None):
            number = str(FIRST_LIST_SEQUENCE + len(self._list_ids))
            self._list_ids[list_id], self._lists_by_id[number] = number, list_id

    def contact_v2_id(self, contact_id: str) -> str:
        with self.store.lock:
            self._sync_ids()
            return self._contact_ids[contact_id]

    def list_v2_id(self, list_id: str) -> str:
        with self.store.lock:
            self._sync_ids()
            return self._list_ids[list_id]

    def xrefs(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        """V3's `contact_id_xrefs` (kind "contact") / `list_id_xrefs` (kind "list"): V2 ids to V3 ids, unknown ones
        left out, sorted by sequence_id."""
        with self.store.lock:
            self._sync_ids()
            ids = [i.strip() for i in (query.get("sequence_ids") or "").split(",") if i.strip()]
            if not ids or len(ids) > MAX_XREFS:
                raise validation_error(f"sequence_ids is required: 1 to {MAX_XREFS} comma-separated ids.")
            known = self._contacts_by_id if kind == "contact" else self._lists_by_id
            found = sorted({i for i in ids if i in known}, key=int)
            return {"xrefs": [{"sequence_id": i, f"{kind}_id": known[i]} for i in found]}

    def _resolve_list(self, v2_id: str) -> str | None:
        list_id = self._lists_by_id.get(v2_id)
        return list_id if list_id is not None and self.store.catalog.has_list(list_id) else None

    def _contact(self, v2_id: str) -> StoredContact:
        self._sync_ids()
        contact_id = self._contacts_by_id.get(v2_id)
        if contact_id is None:
            raise not_found(f"Contact {v2_id} was not found.")
        return self.store.contacts[contact_id]

    # --- rendering -----------------------------------------------------------------------------

    @staticmethod
    def status(c: StoredContact) -> str:
        """A contact's V2 status. A contact deleted in the UI reads as REMOVED (it is on no list)."""
        if c.deleted_at is not None:
            return "REMOVED"
        if c.permission == "unsubscribed":
            return "OPTOUT"
        if c.permission == "pending_confirmation":
            return "UNCONFIRMED"
        return "ACTIVE" if c.list_memberships else "REMOVED"

    def render(self, c: StoredContact, *, include_contact_id: bool = False) -> dict[str, Any]:
        """The V2 contact resource; properties without a value are omitted, arrays are always present."""
        v2_id = self._contact_ids[c.contact_id]
        status = self.status(c)
        extras = self._extras.get(c.contact_id, V2Extras())
        email = {
            "id": v2_id,
            "status": status,
            "confirm_status": _CONFIRM.get(c.confirm_status, "NO_CONFIRMATION_REQUIRED"),
            "opt_in_source": VISITOR if c.opt_in_source == "Contact" else OWNER,
            "opt_in_date": iso(c.opt_in_date if c.opt_in_date is not None else c.email_created_at),
            "opt_out_date": iso(c.opt_out_date) if c.permission == "unsubscribed" else NEVER_OPTED_OUT,
            "email_address": c.address,
        }
        out: dict[str, Any] = {"id": v2_id}
        if include_contact_id:
            out["contact_id"] = c.contact_id
        out |= {"status": status, "email_addresses": [email]}
        values = {name: c.core.get(name) for name in NAMES} | extras.fields
        values |= {_V2_PHONES[p["kind"]]: p["phone_number"] for p in c.phone_numbers if p["kind"] in _V2_PHONES}
        out |= {name: value for name, value in sorted(values.items()) if value is not None}
        out["addresses"] = [self._render_address(a) for a in c.street_addresses if a.get("kind") in _V2_KINDS]
        lists = [] if c.deleted_at is not None else c.list_memberships
        out["lists"] = [{"id": self._list_ids[i], "status": "ACTIVE"} for i in lists if i in self._list_ids]
        out["custom_fields"] = [{"name": k, "value": v} for k, v in sorted(extras.custom_fields.items())]
        latest = c.notes[-1:]  # V2 holds one note: the newest
        out["notes"] = [{"id": n["note_id"], "note": n["content"], "created_date": n["created_at"]} for n in latest]
        out["confirmed"] = c.confirm_status == "confirmed"
        out["created_date"] = iso(c.created_at)
        out["modified_date"] = iso(c.updated_at)
        return out

    @staticmethod
    def _render_address(a: dict[str, Any]) -> dict[str, Any]:
        lines = (a.get("street") or "").split("\n")
        out: dict[str, Any] = {"id": a["street_address_id"], "address_type": _V2_KINDS[a["kind"]]}
        for n, line in enumerate(lines[:3], start=1):
            if line:
                out[f"line{n}"] = line
        for key, value in (("city", a.get("city")), ("state_code", a.get("state")), ("country_code", a.get("country"))):
            if value:
                out[key] = value
        postal, _, sub_postal = (a.get("postal_code") or "").partition("-")
        if postal:
            out["postal_code"] = postal
        if sub_postal:
            out["sub_postal_code"] = sub_postal
        return out

    # --- reads ---------------------------------------------------------------------------------

    def get_contact(self, v2_id: str, query: dict[str, str]) -> dict[str, Any]:
        with self.store.lock:
            return self.render(self._contact(v2_id), include_contact_id=query.get("include_contact_id") == "true")

    def list_contacts(self, raw_query: dict[str, str]) -> dict[str, Any]:
        """GET /contacts: contacts deleted in the UI are never returned (by email or otherwise)."""
        with self.store.lock:
            self._sync_ids()
            query, offset = _resolve_next(raw_query)
            email = (query.get("email") or "").strip().lower()
            status = query.get("status") or "ALL"
            limit = int(query.get("limit") or 50)
            since = _time_param(query.get("modified_since"))
            matches = [
                c
                for c in self.store.contacts.values()
                if c.deleted_at is None
                and (not email or c.address.lower() == email)
                and (status == "ALL" or self.status(c) == status)
                and (since is None or c.updated_at >= since)
            ]
            page = matches[offset : offset + limit]
            pagination: dict[str, str] = {}
            if offset + limit < len(matches):
                saved = {k: v for k, v in query.items() if k not in ("api_key", "next")}
                token = json.dumps({"q": saved, "o": offset + limit}).encode()
                pagination["next_link"] = f"/v2/contacts?next={base64.urlsafe_b64encode(token).decode().rstrip('=')}"
            include_id = query.get("include_contact_id") == "true"
            return {
                "meta": {"pagination": pagination},
                "results": [self.render(c, include_contact_id=include_id) for c in page],
            }

    def get_lists(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """GET /lists: a plain array of the account's lists (V3's lists, deleted ones left out)."""
        with self.store.lock:
            self._sync_ids()
            since = _time_param(query.get("modified_since"))
            return [
                self._render_list(lst, v2_id)
                for list_id, v2_id in self._list_ids.items()
                if (lst := self.store.lists[list_id]).deleted_at is None and (since is None or lst.updated_at >= since)
            ]

    def _render_list(self, lst: ContactList, v2_id: str) -> dict[str, Any]:
        count = sum(
            1
            for c in self.store.contacts.values()
            if lst.list_id in c.list_memberships and c.deleted_at is None and c.permission != "unsubscribed"
        )
        return {
            "id": v2_id,
            "name": lst.name,
            "status": self._list_status.get(lst.list_id, "ACTIVE"),
            "created_date": iso(lst.created_at),
            "modified_date": iso(lst.updated_at),
            "contact_count": count,
        }

    # --- writes --------------------------------------------------------------------------------

    def create_list(self, body: Any) -> dict[str, Any]:
        """POST /lists: a list of the account, the same one V3 sees; 409 for a name in use (case-insensitive)."""
        with self.store.lock:
            name, status = list_body(body)
            try:
                lst = self.store.add_list(name)
            except ListRefused as exc:
                if exc.name_in_use:
                    raise v2_error(409, "http.status.conflict", str(exc)) from None
                raise bad_request(str(exc)) from None
            if status != "ACTIVE":
                self._list_status[lst.list_id] = status
            self._sync_ids()
            return self._render_list(lst, self._list_ids[lst.list_id])

    def create_contact(self, body: Any, action_by: str) -> dict[str, Any]:
        """POST /contacts: 409 for any email the account holds, contacts deleted in the UI included."""
        with self.store.lock:
            self._sync_ids()
            data = contact_body(body, self._resolve_list)
            if not data.lists:
                raise v2_error(400, "json.field.lists.value.invalid", "#/lists: At least one list is required.")
            if self.store.find_by_email(data.email) is not None:
                raise v2_error(409, "http.status.email_address.conflict", f"Email address {data.email} already exists.")
            now = self.store.clock.time()
            source = _action_source(action_by)
            pending = action_by == VISITOR and self.store.confirmed_opt_in
            permission = "pending_confirmation" if pending else ("explicit" if action_by == VISITOR else "implicit")
            via = f"POST /v2/contacts {action_by}"
            c = self.store.add_contact(data.email, permission, source=source, via=via, now=now)
            self._overwrite(c, data)
            self._sync_ids()
            return self.render(c)

    def put_contact(self, v2_id: str, body: Any, action_by: str) -> dict[str, Any]:
        """PUT /contacts/{id}: a full overwrite of every V2 property; OPTOUT comes back only by the visitor."""
        with self.store.lock:
            c = self._contact(v2_id)
            data = contact_body(body, self._resolve_list)
            other = self.store.find_by_email(data.email)
            if other is not None and other.contact_id != c.contact_id:
                raise v2_error(409, "http.status.email_address.conflict", f"Email address {data.email} already exists.")
            if c.permission == "unsubscribed" and action_by != VISITOR:
                raise bad_request(
                    f"Contact {v2_id} is opted out (OPTOUT); only the contact can opt back in: "
                    "update it with action_by=ACTION_BY_VISITOR."
                )
            now = self.store.clock.time()
            source = _action_source(action_by)
            if data.email != c.address:
                self.store.change_address(c, data.email, now)
            if action_by == VISITOR and c.permission not in ("explicit", "pending_confirmation"):
                self.store.set_permission(c, "explicit", via=f"PUT /v2/contacts {action_by}", source=source)
                c.opt_in_source = source
            self._overwrite(c, data)
            if c.list_memberships:
                c.deleted_at = None  # adding a contact deleted in the UI to a list brings it back
            c.update_source = source
            c.updated_at = now
            return self.render(c)

    def delete_contact(self, v2_id: str) -> None:
        """DELETE /contacts/{id}: opts the contact out (never deletes it); the account did it."""
        with self.store.lock:
            c = self._contact(v2_id)
            if c.permission != "unsubscribed":
                self.store.set_permission(c, "unsubscribed", via="DELETE /v2/contacts", source="Account")
            c.updated_at = self.store.clock.time()

    @staticmethod
    def extras(email: str, properties: dict[str, Any]) -> V2Extras:
        """V2-only properties (`prefix_name`, `middle_name`, `fax`, `source`, V2 `custom_fields`) for seeding,
        validated as V2 validates them; ValueError for anything else."""
        if unknown := sorted(set(properties) - {*V2_ONLY, "custom_fields"}):
            raise ValueError(f"not V2-only properties: {', '.join(unknown)}")
        try:
            data = contact_body({"email_addresses": [{"email_address": email}], **properties}, lambda _: None)
        except ApiError as exc:
            raise ValueError(f"V2 properties rejected: {exc.body}") from None
        return V2Extras(fields=dict(data.v2_only), custom_fields=dict(data.custom_fields))

    def set_extras(self, contact_id: str, extras: V2Extras) -> None:
        with self.store.lock:
            self._extras[contact_id] = extras

    def _overwrite(self, c: StoredContact, data: V2ContactInput) -> None:
        """Set every V2 property from the body; what V3 holds and V2 cannot see (birthday, anniversary, V3 custom
        fields, tags, `other` phones and addresses) is left as it is. The notes become the one V2 note, or none."""
        c.core.update(data.names)
        self._extras[c.contact_id] = V2Extras(fields=dict(data.v2_only), custom_fields=dict(data.custom_fields))
        kept_phones = [p for p in c.phone_numbers if p["kind"] not in _V2_PHONES]
        sent_phones = [self.store.phone_entry(n, kind, c.phone_numbers) for kind, n in data.phones.items()]
        c.phone_numbers = kept_phones + sent_phones
        kept_addresses = [a for a in c.street_addresses if a.get("kind") not in _V2_KINDS]
        c.street_addresses = kept_addresses + [self.store.address_entry(a, c.street_addresses) for a in data.addresses]
        sent_notes = [{"note_id": None, "created_at": None, "content": data.note}] if data.note else []
        c.notes = self.store.stamped_notes(sent_notes)
        c.list_memberships = list(data.lists or [])


def _resolve_next(query: dict[str, str]) -> tuple[dict[str, str], int]:
    """`next` carries the original query and the offset, so `next_link` is self-contained."""
    token = query.get("next")
    if not token:
        return query, 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        saved, offset = decoded["q"], int(decoded["o"])
        if not isinstance(saved, dict):
            raise ValueError("bad next")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise query_error("The value of next is not valid.") from None
    return {str(k): str(v) for k, v in saved.items()}, offset


def _time_param(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise query_error("modified_since must be an ISO-8601 date-time.") from None
    if parsed.tzinfo is None:
        raise query_error("modified_since must carry a time zone (e.g. Z).")
    return parsed.timestamp()
