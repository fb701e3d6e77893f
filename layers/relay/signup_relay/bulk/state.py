"""Which addresses of a run are deleted or unsubscribed, read in pages of 500 instead of one lookup each.

`GET /contacts?status=deleted,unsubscribed` lists exactly the contacts whose import would differ from the
per-contact policy or whose outcome the read-back alone cannot name (revived, kept_unsubscribed). Contacts
are compared by the normalised address, as the policy does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from signup_relay.emails import normalize_email
from signup_relay.errors import RelayError
from signup_relay.upsert.policy import ContactState, contact_state

PAGE = 500  # GET /contacts takes limit 1-500


class ContactPages(Protocol):
    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]: ...


class TooManyToScan(RelayError):
    """The account holds more deleted and unsubscribed contacts than the scan may read."""

    error_class = "too_many_to_scan"


def opted_out_or_deleted(client: ContactPages, emails: set[str], *, max_pages: int) -> dict[str, ContactState]:
    """The state of each of `emails` that is deleted, unsubscribed or both (absent = active or new).

    Raises TooManyToScan after `max_pages` pages: the caller then applies the run per contact.
    """
    found: dict[str, ContactState] = {}
    params: dict[str, str | int] = {"status": "deleted,unsubscribed", "limit": PAGE}
    for seen, contact in enumerate(client.iter_contacts(params), start=1):
        if seen > max_pages * PAGE:
            raise TooManyToScan(f"more than {max_pages * PAGE} deleted or unsubscribed contacts")
        email = normalize_email(str((contact.get("email_address") or {}).get("address") or ""))
        if email in emails:
            found[email] = contact_state(contact)
    return found
