"""The sandbox's account state and its V3 operations on contacts, lists, custom fields and tags.

Bulk activities run on this state from `activities` and `json_import`. All public methods take the store lock; they
raise `ApiError` with the real status and error body. Rendering follows the spec's ContactResource: properties
without a value are omitted, subresources appear only when asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.cc_sandbox.clock import SandboxClock, iso, iso_date
from local.cc_sandbox.errors import conflict, not_found, validation_error
from local.cc_sandbox.validation import (
    CORE_FIELDS,
    MAX_CUSTOM_FIELDS,
    MAX_LISTS,
    NAME_FIELDS,
    SUBRESOURCES,
    Catalog,
    Problems,
    check_keys,
    contact_body,
    is_uuid,
    opt_str,
    required_list_ids,
    sign_up_body,
)

CONTACT_STATUSES = ("all", "active", "deleted", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
CUSTOM_FIELD_TYPES = ("string", "date")
MAX_ACCOUNT_LISTS = 1000
MAX_ACCOUNT_CUSTOM_FIELDS = 100


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class StoredContact:
    contact_id: str
    address: str
    permission: str
    create_source: str
    update_source: str
    created_at: float
    updated_at: float
    email_created_at: float
    email_updated_at: float
    opt_in_source: str | None = None
    opt_in_date: float | None = None
    opt_out_source: str | None = None
    opt_out_date: float | None = None
    opt_out_reason: str | None = None
    confirm_status: str = "off"
    core: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(CORE_FIELDS))
    deleted_at: float | None = None
    custom_fields: list[dict[str, Any]] = field(default_factory=list)
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)
    street_addresses: list[dict[str, Any]] = field(default_factory=list)
    list_memberships: list[str] = field(default_factory=list)
    taggings: list[str] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    resubscribe_request: dict[str, Any] | None = None
    permission_history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ContactList:
    list_id: str
    name: str
    description: str | None
    favorite: bool
    created_at: float
    updated_at: float
    deleted_at: float | None = None


class ListRefused(Exception):
    """The account cannot add this list: its name is in use (`name_in_use`), or the account is full."""

    def __init__(self, message: str, name_in_use: bool) -> None:
        super().__init__(message)
        self.name_in_use = name_in_use


@dataclass
class CustomField:
    custom_field_id: str
    label: str
    name: str
    type: str
    created_at: float
    updated_at: float


@dataclass
class Tag:
    tag_id: str
    name: str
    tag_source: str | None
    created_at: float
    updated_at: float


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _int_param(query: dict[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer from {low} to {high}.") from None
    if not low <= value <= high:
        raise validation_error(f"{name} must be an integer from {low} to {high}.")
    return value


def _bool_param(query: dict[str, str], name: str) -> bool:
    raw = query.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false"):
        raise validation_error(f"{name} must be true or false.")
    return raw.lower() == "true"


def _time_param(query: dict[str, str], name: str) -> int | None:
    """An ISO-8601 date or date-time as whole milliseconds (the precision the API shows); no offset means UTC."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise validation_error(f"{name} must be an ISO-8601 date or date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _ms(parsed.timestamp())


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _resolve_cursor(query: dict[str, str]) -> tuple[dict[str, str], int]:
    """A cursor carries the original query and the next offset, so `_links.next.href` is self-contained."""
    cursor = query.get("cursor")
    if not cursor:
        return query, 0
    if len(query) > 1:
        # The cursor already carries the query: a parameter sent beside it would be silently ignored.
        raise validation_error("cursor cannot be combined with other query parameters; follow _links.next.href.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        saved, offset = decoded["q"], int(decoded["o"])
        if not isinstance(saved, dict):
            raise ValueError("bad cursor")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise validation_error("cursor is not valid.") from None
    return {str(k): str(v) for k, v in saved.items()}, offset


def _page(items: list[Any], query: dict[str, str], offset: int, limit: int, path: str) -> tuple[list[Any], dict]:
    """One page and the `_links` property to add to the answer: present only when there is a next page."""
    page = items[offset : offset + limit]
    if offset + limit >= len(items):
        return page, {}
    saved = {k: v for k, v in query.items() if k != "cursor"}
    token = base64.urlsafe_b64encode(json.dumps({"q": saved, "o": offset + limit}).encode()).decode().rstrip("=")
    return page, {"_links": {"next": {"href": f"{path}?cursor={token}"}}}


class AccountStore:
    """One Constant Contact account: contacts, lists, custom fields and tags."""

    def __init__(self, clock: SandboxClock, *, confirmed_opt_in: bool = False) -> None:
        self.clock = clock
        self.confirmed_opt_in = confirmed_opt_in
        self.lock = threading.RLock()
        self.contacts: dict[str, StoredContact] = {}
        self._by_email: dict[str, str] = {}
        self.lists: dict[str, ContactList] = {}
        self.custom_fields: dict[str, CustomField] = {}
        self.tags: dict[str, Tag] = {}
        self.catalog = Catalog(
            has_list=lambda i: i in self.lists and self.lists[i].deleted_at is None,
            has_custom_field=lambda i: i in self.custom_fields,
            has_tag=lambda i: i in self.tags,
        )

    # --- lookups -------------------------------------------------------------------------------

    def find_by_email(self, address: str) -> StoredContact | None:
        """Email addresses are unique per account and matched case-insensitively."""
        with self.lock:
            contact_id = self._by_email.get(address.strip().lower())
            return self.contacts.get(contact_id) if contact_id else None

    def email_of(self, contact_id: str) -> str | None:
        with self.lock:
            contact = self.contacts.get(contact_id)
            return contact.address.lower() if contact else None

    def contact(self, contact_id: str) -> StoredContact:
        """The stored record (deleted too), or the API's 404 for an unknown or malformed id. Read it under `lock`."""
        with self.lock:
            contact = self.contacts.get(contact_id)
        if contact is None:
            if not is_uuid(contact_id):
                raise not_found("contact_id is in an invalid format.")
            raise not_found(f"Contact {contact_id} was not found.")
        return contact

    # --- rendering -----------------------------------------------------------------------------

    def render_contact(self, c: StoredContact, include: Iterable[str]) -> dict[str, Any]:
        email: dict[str, Any] = {
            "address": c.address,
            "permission_to_send": c.permission,
            "created_at": iso(c.email_created_at),
            "updated_at": iso(c.email_updated_at),
        }
        if c.opt_in_source:
            email["opt_in_source"] = c.opt_in_source
        if c.opt_in_date is not None:
            email["opt_in_date"] = iso(c.opt_in_date)
        if c.permission == "unsubscribed":
            email["opt_out_source"] = c.opt_out_source
            email["opt_out_date"] = iso(c.opt_out_date)
            if c.opt_out_reason:
                email["opt_out_reason"] = c.opt_out_reason
        email["confirm_status"] = c.confirm_status
        out: dict[str, Any] = {"contact_id": c.contact_id, "email_address": email}
        for name in NAME_FIELDS:
            if c.core.get(name) is not None:
                out[name] = c.core[name]
        out["create_source"] = c.create_source
        out["update_source"] = c.update_source
        out["created_at"] = iso(c.created_at)
        out["updated_at"] = iso(c.updated_at)
        if c.deleted_at is not None:
            out["deleted_at"] = iso_date(c.deleted_at)
        for name in ("birthday_month", "birthday_day", "anniversary"):
            if c.core.get(name) is not None:
                out[name] = c.core[name]
        wanted = set(include)
        if "custom_fields" in wanted:
            out["custom_fields"] = [dict(f) for f in c.custom_fields]
        if "phone_numbers" in wanted:
            out["phone_numbers"] = [
                {k: (iso(v) if k.endswith("_at") else v) for k, v in p.items() if v is not None}
                for p in c.phone_numbers
            ]
        if "street_addresses" in wanted:
            out["street_addresses"] = [
                {k: (iso(v) if k.endswith("_at") else v) for k, v in a.items() if v is not None}
                for a in c.street_addresses
            ]
        if "list_memberships" in wanted:
            out["list_memberships"] = list(c.list_memberships)
        if "taggings" in wanted:
            out["taggings"] = list(c.taggings)
        if "notes" in wanted:
            out["notes"] = [dict(n) for n in c.notes]
        return out

    # --- shared mutations ----------------------------------------------------------------------

    def set_permission(
        self, c: StoredContact, new: str, *, via: str, source: str | None, reason: str | None = None
    ) -> None:
        """Move the email to a new permission: its opt-in/opt-out dates and sources, and a history entry."""
        old = c.permission
        if old == new:
            return
        now = self.clock.time()
        c.permission = new
        c.email_updated_at = now
        if new == "unsubscribed":
            c.opt_out_source, c.opt_out_date, c.opt_out_reason = source, now, reason
        else:
            c.opt_out_source = c.opt_out_date = c.opt_out_reason = None
            if new in ("explicit", "implicit"):
                c.opt_in_date = now
                c.opt_in_source = c.opt_in_source or source
        c.confirm_status = "pending" if new == "pending_confirmation" else c.confirm_status
        c.permission_history.append({"at": iso(now), "from": old, "to": new, "via": via, "source": source})

    def phone_entry(self, number: str | None, kind: str | None, existing: list[dict[str, Any]]) -> dict[str, Any]:
        """The existing entry for this number and kind, else a new one (its id and timestamps)."""
        for p in existing:
            if p["phone_number"] == number and p["kind"] == kind:
                return p
        now = self.clock.time()
        return {
            "phone_number_id": new_id(),
            "phone_number": number,
            "kind": kind,
            "created_at": now,
            "updated_at": now,
        }

    def address_entry(self, parts: dict[str, Any], existing: list[dict[str, Any]]) -> dict[str, Any]:
        """The existing entry for this address, else a new one (its id and timestamps)."""
        for a in existing:
            if all(a.get(k) == parts.get(k) for k in ("kind", "street", "city", "state", "postal_code", "country")):
                return a
        now = self.clock.time()
        return {"street_address_id": new_id(), **parts, "created_at": now, "updated_at": now}

    def stamped_notes(self, notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The notes with an id and a creation time where they have none."""
        now = iso(self.clock.time())
        return [
            {"note_id": n["note_id"] or new_id(), "created_at": n["created_at"] or now, "content": n["content"]}
            for n in notes
        ]

    def add_contact(self, address: str, permission: str, *, source: str, via: str, now: float) -> StoredContact:
        """A new indexed contact whose opt-in (or opt-out) is its first permission's, with that in its history."""
        c = StoredContact(
            contact_id=new_id(),
            address=address,
            permission=permission,
            create_source=source,
            update_source=source,
            created_at=now,
            updated_at=now,
            email_created_at=now,
            email_updated_at=now,
        )
        if permission in ("explicit", "implicit", "pending_confirmation"):
            c.opt_in_source = source
        if permission in ("explicit", "implicit"):
            c.opt_in_date = now
        if permission == "unsubscribed":
            c.opt_out_source, c.opt_out_date = source, now
        if permission == "pending_confirmation":
            c.confirm_status = "pending"
        c.permission_history.append({"at": iso(now), "from": None, "to": permission, "via": via, "source": source})
        self.contacts[c.contact_id] = c
        self._by_email[address.lower()] = c.contact_id
        return c

    def change_address(self, c: StoredContact, address: str, now: float) -> None:
        """Give a stored contact a new email address, keeping the email index in step."""
        del self._by_email[c.address.lower()]
        c.address, c.email_updated_at = address, now
        self._by_email[address.lower()] = c.contact_id

    # --- contacts ------------------------------------------------------------------------------

    def create_contact(self, body: Any) -> dict[str, Any]:
        """POST /contacts: 201 with the core resource; 409 for any existing email, deleted ones included."""
        with self.lock:
            data = contact_body(body, self.catalog, is_put=False)
            if data.address is None:
                raise validation_error("email_address is required (this sandbox only holds email contacts).")
            existing = self.find_by_email(data.address)
            if existing is not None:
                raise conflict(f"Validation failed: Email already exists for contact {existing.contact_id}")
            permission = data.permission or "implicit"
            if permission == "unsubscribed" and data.list_memberships:
                raise validation_error("An unsubscribed contact cannot be added to lists.")
            now = self.clock.time()
            source = data.source or "Account"
            c = self.add_contact(data.address, permission, source=source, via="POST /contacts", now=now)
            c.core = data.core
            c.custom_fields = data.custom_fields or []
            c.phone_numbers = [self.phone_entry(p["phone_number"], p["kind"], []) for p in data.phone_numbers or []]
            c.street_addresses = [self.address_entry(a, []) for a in data.street_addresses or []]
            c.list_memberships = data.list_memberships or []
            c.taggings = data.taggings or []
            c.notes = self.stamped_notes(data.notes or [])
            return self.render_contact(c, ())  # core properties only: subresources come with GET include=

    def get_contact(self, contact_id: str, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            include = self._include(query)
            return self.render_contact(self.contact(contact_id), include)

    @staticmethod
    def _include(query: dict[str, str]) -> list[str]:
        include = _csv(query.get("include"))
        bad = [i for i in include if i not in SUBRESOURCES]
        if bad:
            raise validation_error(f"include has invalid value(s) {', '.join(bad)}; use {', '.join(SUBRESOURCES)}.")
        return include

    @staticmethod
    def categories(c: StoredContact) -> set[str]:
        """The contact's `status` filter categories: its permission, "active", or "deleted"."""
        if c.deleted_at is not None:
            return {"deleted"}
        categories = {c.permission}
        if c.permission != "unsubscribed":
            categories.add("active")
        return categories

    def list_contacts(self, raw_query: dict[str, str]) -> dict[str, Any]:
        """GET /contacts. Without `status`, deleted contacts are NOT returned (the 409 trap)."""
        with self.lock:
            query, offset = _resolve_cursor(raw_query)
            limit = _int_param(query, "limit", 1, 500, 50)
            statuses = _csv(query.get("status"))
            bad = [s for s in statuses if s not in CONTACT_STATUSES]
            if bad:
                raise validation_error(f"status has invalid value(s) {', '.join(bad)}.")
            include = self._include(query)
            list_filter = _csv(query.get("lists"))
            tag_filter = _csv(query.get("tags"))
            if len(list_filter) > 25:
                raise validation_error("lists accepts at most 25 list_ids.")
            if len(tag_filter) > 50:
                raise validation_error("tags accepts at most 50 tag_ids.")
            if any(not is_uuid(i) for i in list_filter + tag_filter):
                raise validation_error("lists and tags must be comma-separated UUIDs.")
            bounds = {name: _time_param(query, name) for name in ("created_after", "created_before")}
            bounds |= {name: _time_param(query, name) for name in ("updated_after", "updated_before")}
            email = (query.get("email") or "").strip().lower()
            include_count = _bool_param(query, "include_count")

            def wanted(c: StoredContact) -> bool:
                cats = self.categories(c)
                if not statuses:
                    if "deleted" in cats:
                        return False
                elif "all" not in statuses and not cats & set(statuses):
                    return False
                if email and c.address.lower() != email:
                    return False
                if list_filter and not set(list_filter) & set(c.list_memberships):
                    return False
                if tag_filter and not set(tag_filter) & set(c.taggings):
                    return False
                checks = (
                    (bounds["created_after"], c.created_at, 1),
                    (bounds["created_before"], c.created_at, -1),
                    (bounds["updated_after"], c.updated_at, 1),
                    (bounds["updated_before"], c.updated_at, -1),
                )
                # "after" and "before" are strict, at the milliseconds the API shows.
                return all(b is None or (_ms(t) > b if sign > 0 else _ms(t) < b) for b, t, sign in checks)

            matches = sorted((c for c in self.contacts.values() if wanted(c)), key=lambda c: c.created_at)
            page, links = _page(matches, query, offset, limit, "/v3/contacts")
            out: dict[str, Any] = {"contacts": [self.render_contact(c, include) for c in page], **links}
            if include_count:
                out["contacts_count"] = len(matches)
            return out

    def put_contact(self, contact_id: str, body: Any) -> dict[str, Any]:
        """PUT /contacts/{id}: core properties omitted or blank become null; omitted subresources are kept."""
        with self.lock:
            c = self.contact(contact_id)
            data = contact_body(body, self.catalog, is_put=True)
            assert data.address is not None and data.source is not None  # guaranteed by contact_body
            other = self.find_by_email(data.address)
            if other is not None and other.contact_id != c.contact_id:
                raise conflict(f"Validation failed: Email already exists for contact {other.contact_id}")
            if c.deleted_at is not None and (data.source != "Account" or not data.list_memberships):
                raise validation_error(
                    "To restore a deleted contact, update_source must be Account and list_memberships must "
                    "contain at least one list."
                )
            target = data.permission or c.permission
            if c.permission == "unsubscribed" and c.opt_out_source == "Contact" and target != "unsubscribed":
                raise validation_error(
                    f"Contact {c.contact_id} unsubscribed themselves (opt_out_source Contact): permission_to_send "
                    "cannot be changed through PUT; only the contact can opt back in (sign-up form or resubscribe)."
                )
            current_lists = [] if c.deleted_at is not None else c.list_memberships
            new_lists = data.list_memberships if data.list_memberships is not None else current_lists
            added = [i for i in new_lists if i not in current_lists]
            if target == "unsubscribed" and added:
                raise validation_error(f"Contact {c.contact_id} is unsubscribed and cannot be added to lists.")
            now = self.clock.time()
            if data.address != c.address:
                self.change_address(c, data.address, now)
            if data.permission and data.permission != c.permission:
                self.set_permission(
                    c, data.permission, via="PUT /contacts", source=data.source, reason=data.opt_out_reason
                )
            elif target == "unsubscribed" and "opt_out_reason" in (body.get("email_address") or {}):
                c.opt_out_reason = data.opt_out_reason
            c.core = data.core
            if data.custom_fields is not None:
                c.custom_fields = data.custom_fields
            if data.phone_numbers is not None:
                c.phone_numbers = [
                    self.phone_entry(p["phone_number"], p["kind"], c.phone_numbers) for p in data.phone_numbers
                ]
            if data.street_addresses is not None:
                c.street_addresses = [self.address_entry(a, c.street_addresses) for a in data.street_addresses]
            c.list_memberships = list(new_lists)
            if data.taggings is not None:
                c.taggings = data.taggings
            if data.notes is not None:
                c.notes = self.stamped_notes(data.notes)
            c.deleted_at = None
            c.update_source = data.source
            c.updated_at = now
            return self.render_contact(c, ())  # core properties only, as for POST

    def delete_contact(self, contact_id: str) -> None:
        """DELETE /contacts/{id}: a soft delete. Lists are dropped; permission is kept. Already deleted -> 404."""
        with self.lock:
            c = self.contact(contact_id)
            if c.deleted_at is not None:
                raise not_found(f"Contact {contact_id} was not found.")
            c.deleted_at = self.clock.time()
            c.list_memberships = []
            c.updated_at = c.deleted_at

    def sign_up_form(self, body: Any) -> tuple[int, dict[str, Any]]:
        """POST /contacts/sign_up_form: create (201) or partial update (200); appends lists and custom fields."""
        with self.lock:
            data = sign_up_body(body, self.catalog)
            now = self.clock.time()
            c = self.find_by_email(data.address)
            if c is None:
                permission = "pending_confirmation" if self.confirmed_opt_in else "explicit"
                c = self.add_contact(data.address, permission, source="Contact", via="sign_up_form", now=now)
                c.core.update(data.core)
                c.custom_fields = list(data.custom_fields)
                if data.phone_number:
                    c.phone_numbers = [self.phone_entry(data.phone_number, "other", [])]
                if data.street_address:
                    c.street_addresses = [self.address_entry(data.street_address, [])]
                c.list_memberships = list(data.list_memberships)
                return 201, {"contact_id": c.contact_id, "action": "created"}

            current_lists = [] if c.deleted_at is not None else c.list_memberships
            lists = current_lists + [i for i in data.list_memberships if i not in current_lists]
            if len(lists) > MAX_LISTS:
                raise validation_error(f"A contact can belong to at most {MAX_LISTS} lists.")
            fields = {f["custom_field_id"]: f for f in c.custom_fields}
            fields.update({f["custom_field_id"]: f for f in data.custom_fields})
            if len(fields) > MAX_CUSTOM_FIELDS:
                raise validation_error(f"A contact can hold at most {MAX_CUSTOM_FIELDS} custom fields.")
            c.core.update(data.core)
            c.custom_fields = list(fields.values())
            if data.phone_number and all(p["phone_number"] != data.phone_number for p in c.phone_numbers):
                phone = self.phone_entry(data.phone_number, "other", [])
                c.phone_numbers = (c.phone_numbers + [phone])[-3:]
            if data.street_address:
                kept = [a for a in c.street_addresses if a.get("kind") != data.street_address["kind"]]
                c.street_addresses = (kept + [self.address_entry(data.street_address, c.street_addresses)])[-3:]
            c.list_memberships = lists
            c.deleted_at = None
            self.set_permission(c, "explicit", via="sign_up_form", source="Contact")
            c.update_source = "Contact"
            c.updated_at = now
            return 200, {"contact_id": c.contact_id, "action": "updated"}

    def resubscribe(self, contact_id: str, body: Any) -> None:
        """PUT /contacts/resubscribe/{id}: records a one-time resubscribe email; permission is NOT changed."""
        with self.lock:
            c = self.contact(contact_id)
            problems = Problems()
            if not isinstance(body, dict):
                raise validation_error("The request body must be a JSON object.")
            check_keys(body, ("list_ids",), "", problems)
            ids = required_list_ids(body, "list_ids", self.catalog, problems)
            problems.raise_if_any()
            if c.permission != "unsubscribed":
                raise validation_error(f"Contact {c.contact_id} is not unsubscribed.")
            if c.resubscribe_request is not None:
                raise conflict(f"A resubscribe email was already sent to contact {c.contact_id}; it is sent only once.")
            c.resubscribe_request = {"list_ids": ids, "requested_at": iso(self.clock.time()), "confirmed": False}

    def confirm_resubscribe(self, contact_id: str) -> None:
        """Simulate the contact clicking the resubscribe email: explicit again and added to the requested lists."""
        with self.lock:
            c = self.contact(contact_id)
            request = c.resubscribe_request
            if request is None or request["confirmed"]:
                raise ValueError(f"contact {contact_id} has no pending resubscribe request")
            self.set_permission(c, "explicit", via="resubscribe confirmation", source="Contact")
            current = [] if c.deleted_at is not None else c.list_memberships
            c.list_memberships = current + [i for i in request["list_ids"] if i not in current]
            c.deleted_at = None
            c.updated_at = self.clock.time()
            request["confirmed"] = True

    # --- lists, custom fields, tags -------------------------------------------------------------

    def _render_list(self, lst: ContactList, membership: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"list_id": lst.list_id, "name": lst.name}
        if lst.description is not None:
            out["description"] = lst.description
        out |= {"favorite": lst.favorite, "created_at": iso(lst.created_at), "updated_at": iso(lst.updated_at)}
        if lst.deleted_at is not None:
            out["deleted_at"] = iso(lst.deleted_at)
        if membership:
            out["membership_count"] = sum(
                1
                for c in self.contacts.values()
                if lst.list_id in c.list_memberships
                and c.deleted_at is None
                and (membership == "all" or c.permission != "unsubscribed")
            )
        return out

    @staticmethod
    def _membership_count(query: dict[str, str]) -> str | None:
        membership = query.get("include_membership_count")
        if membership not in (None, "all", "active"):
            raise validation_error("include_membership_count does not have a valid value")
        return membership

    def get_lists(self, raw_query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            query, offset = _resolve_cursor(raw_query)
            limit = _int_param(query, "limit", 1, 500, 50)  # "from 1 - 500" (the schema says up to 1000)
            statuses = _csv(query.get("status")) or ["active"]
            if any(s not in ("all", "active", "deleted") for s in statuses):
                raise validation_error("status must be all, active or deleted.")
            membership = self._membership_count(query)
            name = query.get("name")
            matches = [
                lst
                for lst in self.lists.values()
                if ("all" in statuses or ("deleted" if lst.deleted_at else "active") in statuses)
                and (name is None or lst.name == name)
            ]
            page, links = _page(matches, query, offset, limit, "/v3/contact_lists")
            out: dict[str, Any] = {"lists": [self._render_list(x, membership) for x in page], **links}
            if _bool_param(query, "include_count"):
                out["lists_count"] = len(matches)
            return out

    def get_list(self, list_id: str, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            membership = self._membership_count(query)
            lst = self.lists.get(list_id)
            if lst is None:
                raise not_found(f"List {list_id} was not found.")
            return self._render_list(lst, membership)

    def create_list(self, body: Any) -> dict[str, Any]:
        with self.lock:
            problems = Problems()
            if not isinstance(body, dict):
                raise validation_error("The request body must be a JSON object.")
            check_keys(body, ("name", "favorite", "description"), "", problems)
            name = opt_str(body, "name", 255, problems)
            if name is None:
                problems.add("name is required.")
            if "favorite" in body and not isinstance(body["favorite"], bool):
                problems.add("favorite must be a boolean.")
            description = body.get("description")
            if description is not None and not isinstance(description, str):
                problems.add("description must be a string.")
            problems.raise_if_any()
            assert name is not None
            try:
                lst = self.add_list(name, description, favorite=bool(body.get("favorite", False)))
            except ListRefused as exc:
                raise (conflict if exc.name_in_use else validation_error)(str(exc)) from None
            return self._render_list(lst, None)

    def add_list(self, name: str, description: str | None = None, *, favorite: bool = False) -> ContactList:
        """Add a list (V3's and V2's POST); ListRefused for a name in use (case-insensitive) or a full account."""
        with self.lock:
            if any(x.name.lower() == name.lower() and x.deleted_at is None for x in self.lists.values()):
                raise ListRefused(f"A list named {name!r} already exists; list names must be unique.", True)
            if len(self.lists) >= MAX_ACCOUNT_LISTS:
                raise ListRefused(f"An account can have at most {MAX_ACCOUNT_LISTS} lists.", False)
            now = self.clock.time()
            lst = ContactList(new_id(), name, description, favorite, now, now)
            self.lists[lst.list_id] = lst
            return lst

    @staticmethod
    def _render_field(f: CustomField) -> dict[str, Any]:
        return {
            "custom_field_id": f.custom_field_id,
            "label": f.label,
            "name": f.name,
            "type": f.type,
            "created_at": iso(f.created_at),
            "updated_at": iso(f.updated_at),
        }

    def get_custom_fields(self, raw_query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            query, offset = _resolve_cursor(raw_query)
            limit = _int_param(query, "limit", 1, 100, 50)
            page, links = _page(list(self.custom_fields.values()), query, offset, limit, "/v3/contact_custom_fields")
            return {"custom_fields": [self._render_field(f) for f in page], **links}

    def create_custom_field(self, body: Any) -> dict[str, Any]:
        with self.lock:
            problems = Problems()
            if not isinstance(body, dict):
                raise validation_error("The request body must be a JSON object.")
            check_keys(body, ("label", "type", "metadata", "choices", "version"), "", problems)
            label = opt_str(body, "label", 50, problems)
            if label is None:
                problems.add("label is required.")
            kind = body.get("type")
            if kind not in CUSTOM_FIELD_TYPES:
                problems.add(f"type is required and must be one of {', '.join(CUSTOM_FIELD_TYPES)} in this sandbox.")
            problems.raise_if_any()
            assert label is not None and isinstance(kind, str)
            name = re.sub(r"\s+", "_", label.strip())
            if any(f.name.lower() == name.lower() for f in self.custom_fields.values()):
                raise conflict(f"A custom field named {name!r} already exists.")
            if len(self.custom_fields) >= MAX_ACCOUNT_CUSTOM_FIELDS:
                raise validation_error(f"An account can have at most {MAX_ACCOUNT_CUSTOM_FIELDS} custom fields.")
            now = self.clock.time()
            f = CustomField(new_id(), label, name, kind, now, now)
            self.custom_fields[f.custom_field_id] = f
            return self._render_field(f)

    def _render_tag(self, t: Tag, with_count: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"tag_id": t.tag_id, "name": t.name}
        if with_count:
            out["contacts_count"] = sum(1 for c in self.contacts.values() if t.tag_id in c.taggings)
        out |= {"created_at": iso(t.created_at), "updated_at": iso(t.updated_at)}
        if t.tag_source:
            out["tag_source"] = t.tag_source
        return out

    def get_tags(self, raw_query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            query, offset = _resolve_cursor(raw_query)
            limit = _int_param(query, "limit", 1, 500, 50)
            with_count = _bool_param(query, "include_count")
            page, links = _page(list(self.tags.values()), query, offset, limit, "/v3/contact_tags")
            return {"tags": [self._render_tag(t, with_count) for t in page], **links}

    def create_tag(self, body: Any) -> dict[str, Any]:
        with self.lock:
            problems = Problems()
            if not isinstance(body, dict):
                raise validation_error("The request body must be a JSON object.")
            check_keys(body, ("name", "tag_source"), "", problems)
            name = opt_str(body, "name", 255, problems)
            if name is None:
                problems.add("name is required (1 to 255 characters).")
            source = body.get("tag_source")
            if source is not None and not isinstance(source, str):
                problems.add("tag_source must be a string.")
            problems.raise_if_any()
            assert name is not None
            if any(t.name.lower() == name.lower() for t in self.tags.values()):
                raise conflict(f"A tag named {name!r} already exists; tag names must be unique.")
            now = self.clock.time()
            tag = Tag(new_id(), name, source, now, now)
            self.tags[tag.tag_id] = tag
            return self._render_tag(tag, False)

    # --- test helpers ----------------------------------------------------------------------------

    def ensure_list(self, name: str) -> str:
        with self.lock:
            for lst in self.lists.values():
                if lst.name == name and lst.deleted_at is None:
                    return lst.list_id
            return str(self.create_list({"name": name})["list_id"])

    def ensure_custom_field(self, label: str) -> str:
        with self.lock:
            name = re.sub(r"\s+", "_", label.strip())
            for f in self.custom_fields.values():
                if f.label == label or f.name == name:
                    return f.custom_field_id
            return str(self.create_custom_field({"label": label, "type": "string"})["custom_field_id"])

    def ensure_tag(self, name: str) -> str:
        with self.lock:
            for t in self.tags.values():
                if t.name == name:
                    return t.tag_id
            return str(self.create_tag({"name": name})["tag_id"])

    def unsubscribe(self, contact_id: str, source: str, reason: str | None) -> None:
        with self.lock:
            c = self.contact(contact_id)
            if c.permission != "unsubscribed":
                self.set_permission(c, "unsubscribed", via="unsubscribe (test helper)", source=source, reason=reason)
            else:
                c.opt_out_source = source
            c.updated_at = self.clock.time()
