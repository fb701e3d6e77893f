"""A small Constant Contact V3 client: only the endpoints the upsert and the bulk path need.

Every method returns the decoded JSON body of the success response; every failure is a `TransientError` or
`PermanentError` subclass from `signup_relay.errors` (the shared transport, `transport.py`, decides which).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from signup_relay.constant_contact.transport import ApiTransport

CONTACT_INCLUDES = ("custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes")


class ConstantContactClient(ApiTransport):
    """Constant Contact V3: the endpoints the upsert needs."""

    # --- contacts ----------------------------------------------------------------------------------

    def find_contacts_by_email(
        self, email: str, *, status: str | None = "all", include: Sequence[str] = CONTACT_INCLUDES
    ) -> list[dict[str, Any]]:
        """GET /contacts?email=...&status=all&include=... (without status=all, deleted contacts are hidden)."""
        params: dict[str, str | int] = {"email": email}
        if status:
            params["status"] = status
        if include:
            params["include"] = ",".join(include)
        body = self.request("contacts.find", "GET", "contacts", params=params) or {}
        return list(body.get("contacts") or [])

    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]:
        """GET /contacts with `params` (status, updated_after, include, limit 1-500), page by page via `_links.next`."""
        return self._pages("contacts.list", "contacts", "contacts", params)

    def get_contact(self, contact_id: str, *, include: Sequence[str] = CONTACT_INCLUDES) -> dict[str, Any]:
        params: dict[str, str | int] = {"include": ",".join(include)} if include else {}
        return dict(self.request("contacts.get", "GET", f"contacts/{contact_id}", params=params) or {})

    def create_contact(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /contacts. A 409 means the email exists (possibly deleted): callers look it up, never parse it."""
        return dict(self.request("contacts.create", "POST", "contacts", json_body=body) or {})

    def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /contacts/{id}: core fields not sent become null, so send a merged record."""
        return dict(self.request("contacts.update", "PUT", f"contacts/{contact_id}", json_body=body) or {})

    def sign_up_form(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /contacts/sign_up_form -> {contact_id, action}. Its 409 is a concurrent write (transient)."""
        return dict(self.request("contacts.sign_up_form", "POST", "contacts/sign_up_form", json_body=body) or {})

    def resubscribe_contact(self, contact_id: str, list_ids: Sequence[str]) -> dict[str, Any]:
        """PUT /contacts/resubscribe/{id}: one confirmation email per unsubscribed contact, ever."""
        return dict(
            self.request(
                "contacts.resubscribe",
                "PUT",
                f"contacts/resubscribe/{contact_id}",
                json_body={"list_ids": list(list_ids)},
            )
            or {}
        )

    # --- lists, custom fields, tags ------------------------------------------------------------------

    def list_contact_lists(self) -> list[dict[str, Any]]:
        return self._collect("lists.list", "contact_lists", "lists", {"limit": 500})  # the guide says 1-500

    def create_list(self, name: str) -> dict[str, Any]:
        return dict(self.request("lists.create", "POST", "contact_lists", json_body={"name": name}) or {})

    def list_custom_fields(self) -> list[dict[str, Any]]:
        return self._collect("custom_fields.list", "contact_custom_fields", "custom_fields", {"limit": 100})

    def create_custom_field(self, label: str, field_type: str = "string") -> dict[str, Any]:
        body = {"label": label, "type": field_type}
        return dict(self.request("custom_fields.create", "POST", "contact_custom_fields", json_body=body) or {})

    def list_tags(self) -> list[dict[str, Any]]:
        return self._collect("tags.list", "contact_tags", "tags", {"limit": 500})

    def create_tag(self, name: str) -> dict[str, Any]:
        return dict(self.request("tags.create", "POST", "contact_tags", json_body={"name": name}) or {})

    # --- bulk activities -------------------------------------------------------------------------

    def import_contacts_json(self, import_data: Sequence[Mapping[str, Any]], list_ids: Sequence[str]) -> dict[str, Any]:
        """POST /activities/contacts_json_import (new contacts become implicit, opt_in_source Account)."""
        body = {"import_data": list(import_data), "list_ids": list(list_ids)}
        return dict(
            self.request("activities.json_import", "POST", "activities/contacts_json_import", json_body=body) or {}
        )

    def add_taggings(self, contact_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]:
        """POST /activities/contacts_taggings_add for up to 500 contacts."""
        body = {"source": {"contact_ids": list(contact_ids)}, "tag_ids": list(tag_ids)}
        return dict(
            self.request("activities.taggings_add", "POST", "activities/contacts_taggings_add", json_body=body) or {}
        )

    def get_activity(self, activity_id: str) -> dict[str, Any]:
        """GET /activities/{id}: a bulk activity's state (initialized, processing, completed, ...) and counters."""
        return dict(self.request("activities.get", "GET", f"activities/{activity_id}") or {})
