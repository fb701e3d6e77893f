"""Which addresses of a run are deleted or unsubscribed, read in pages of 500 instead of one lookup each.

`GET /contacts?status=deleted,unsubscribed` lists exactly the contacts whose import would differ from the
per-contact policy or whose outcome the read-back alone cannot name (revived, kept_unsubscribed). Contacts
are compared by the normalised address, as the policy does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from signup_relay.errors import RelayError
from signup_relay.upsert.policy import ContactState, contact_state, stored_email

PAGE = 500  # GET /contacts takes limit 1-500


class ContactPages(Protocol):
    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]: ...


class TooManyToScan(RelayError):
    """The account holds more deleted and unsubscribed contacts than the scan may read."""

    error_class = "too_many_to_scan"


def of_addresses(contacts: Iterable[dict[str, Any]], emails: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(normalised address, contact) for each of `contacts` whose normalised address is one of `emails`."""
    for contact in contacts:
        email = stored_email(contact)
        if email in emails:
            yield email, contact


def opted_out_or_deleted(client: ContactPages, emails: set[str], *, max_pages: int) -> dict[str, ContactState]:
    """The state of each of `emails` that is deleted, unsubscribed or both (absent = active or new).

    Raises TooManyToScan after `max_pages` pages: the caller then applies the run per contact.
    """
    params: dict[str, str | int] = {"status": "deleted,unsubscribed", "limit": PAGE}
    contacts = _at_most(client.iter_contacts(params), max_pages * PAGE)
    return {email: contact_state(contact) for email, contact in of_addresses(contacts, emails)}


def _at_most(contacts: Iterable[dict[str, Any]], limit: int) -> Iterator[dict[str, Any]]:
    for seen, contact in enumerate(contacts, start=1):
        if seen > limit:
            raise TooManyToScan(f"more than {limit} deleted or unsubscribed contacts")
        yield contact
