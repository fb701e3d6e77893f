"""Bulk-path test support: a mixed backlog seeded alike into two sandboxes, and the stored state to compare.

Plain functions (no fixtures): the integration tests and the burst benchmark both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.cc_sandbox import Sandbox
from signup_relay.bulk.rows import CONSENT_FIELD_LABEL
from signup_relay.constant_contact.client import ConstantContactClient
from signup_relay.constant_contact.names import NameDirectory
from signup_relay.constant_contact.transport import Pacer
from signup_relay.models import Address, ConsentEvidence, Signup
from signup_relay.routes import Consent, UpsertOptions
from tests import signups

EVIDENCE = ConsentEvidence(
    at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="tally", form="Launch", ip="203.0.113.9"
)
OPTIONS = UpsertOptions(create_missing_custom_fields=True)
# The differences the import makes by design (docs/architecture.md §11): these are not compared.
NOT_COMPARED = ("notes", "create_source", "update_source", "opt_in_source", "consent evidence field")


class StaticTokens:
    """The sandbox's bearer token, for a client that never needs a refresh in the test's lifetime."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.token = str(sandbox.issue_tokens()["access_token"])

    def access_token(self) -> str:
        return self.token

    def after_unauthorized(self, stale_access_token: str) -> str:
        return self.token


@dataclass
class Account:
    client: ConstantContactClient
    names: NameDirectory


def connect(sandbox: Sandbox, *, requests_per_second: float = 0) -> Account:
    client = ConstantContactClient(
        base_url=sandbox.base_url, tokens=StaticTokens(sandbox), pacer=Pacer(requests_per_second)
    )
    return Account(client, NameDirectory(client))


def signup(email: str, consent: Consent = Consent.IMPLICIT, **fields: Any) -> Signup:
    """A sign-up for the launch route (which creates missing custom fields), with the launch form's evidence."""
    launch = {"consent_evidence": EVIDENCE, "options": OPTIONS, "route": "launch"}
    return signups.signup(email, consent, **(launch | fields))


def seed_person(sandbox: Sandbox, email: str, kind: str) -> None:
    """One person of a kind a live account holds: rich (active, every kind of data), deleted, unsubscribed, or gone
    (deleted and unsubscribed). The account must have the Events list."""
    if kind == "rich":
        sandbox.seed_contact(
            email,
            first_name="Ada",
            last_name="Lovelace",
            company_name="Engines Ltd",
            job_title="Analyst",
            phone_numbers=[{"phone_number": "+1 555 0101", "kind": "home"}],
            street_addresses=[{"kind": "home", "street": "1 Main St", "city": "Boston", "country": "US"}],
            custom_fields={"Favourite colour": "green"},
            lists=["Events"],
            tags=["VIP"],
        )
    elif kind == "deleted":
        sandbox.seed_contact(email, first_name="Del", lists=["Events"], deleted=True)
    elif kind == "unsubscribed":
        sandbox.seed_contact(email, first_name="Uma", permission_to_send="unsubscribed")
    elif kind == "gone":
        sandbox.seed_contact(email, first_name="Gus", permission_to_send="unsubscribed", deleted=True)
    else:
        raise ValueError(f"no such kind of person: {kind!r}")


def seed_people(sandbox: Sandbox, prefix: str, count: int) -> None:
    """`count` people of each kind (`seed_person`), addressed `<prefix>-<rich|deleted|unsub|gone>-<n>@example.com`."""
    sandbox.seed_list("News")
    sandbox.seed_list("Events")
    for n in range(count):
        for kind, label in (("rich", "rich"), ("deleted", "deleted"), ("unsubscribed", "unsub"), ("gone", "gone")):
            seed_person(sandbox, f"{prefix}-{label}-{n}@example.com", kind)


def mixed_signups(prefix: str, count: int) -> list[Signup]:
    """A burst over the seeded people and new ones, explicit and implicit, with tags, fields and duplicates."""
    out: list[Signup] = []
    for n in range(count):
        explicit = Consent.EXPLICIT if n % 3 == 0 else Consent.IMPLICIT
        tags = ("Launch",) if n % 2 else ()
        out += [
            signup(f"{prefix}-new-{n}@example.com", explicit, first_name=f"New{n}", tags=tags),
            signup(
                f"{prefix}-rich-{n}@example.com",
                explicit,
                first_name="Augusta",
                custom_fields={"Favourite colour": "blue"},
                phone=f"+1 555 02{n:02d}",
                address=Address(kind="home", city="Cambridge"),
                tags=tags,
            ),
            signup(f"{prefix}-deleted-{n}@example.com", explicit, lists=("News", "Events")),
            signup(f"{prefix}-unsub-{n}@example.com", explicit, last_name="Unsub"),
            signup(f"{prefix}-gone-{n}@example.com", Consent.IMPLICIT, last_name="Gone"),
            signup(f"{prefix}-twice-{n}@example.com", first_name="First", company_name="Before"),
            signup(f"{prefix}-twice-{n}@example.com", first_name="Second", lists=("Events",)),
        ]
    return out


def stored_view(sandbox: Sandbox, email: str) -> dict[str, Any] | None:
    """What a person would notice of their contact, by names (ids differ between sandboxes), without the
    `NOT_COMPARED` parts."""
    contact = sandbox.contact_by_email(email)
    if contact is None:
        return None
    store = sandbox.store
    fields = {
        store.custom_fields[f["custom_field_id"]].label: f.get("value") for f in contact.get("custom_fields") or []
    }
    fields.pop(CONSENT_FIELD_LABEL, None)
    return {
        "permission": contact["email_address"]["permission_to_send"],
        "deleted": bool(contact.get("deleted_at")),
        "core": {
            k: contact.get(k)
            for k in ("first_name", "last_name", "job_title", "company_name", "birthday_month", "anniversary")
        },
        "lists": sorted(store.lists[i].name for i in contact.get("list_memberships") or ()),
        "tags": sorted(store.tags[i].name for i in contact.get("taggings") or ()),
        "custom_fields": fields,
        "phones": sorted((p["kind"], p["phone_number"]) for p in contact.get("phone_numbers") or ()),
        "addresses": sorted(
            tuple(sorted((k, str(v)) for k, v in a.items() if not k.endswith("_at") and k != "street_address_id"))
            for a in contact.get("street_addresses") or ()
        ),
    }


def differences(first: Sandbox, second: Sandbox, emails: list[str]) -> dict[str, tuple[Any, Any]]:
    """email -> (view in first, view in second) for every address whose stored state differs."""
    out = {}
    for email in dict.fromkeys(emails):
        a, b = stored_view(first, email), stored_view(second, email)
        if a != b:
            out[email] = (a, b)
    return out
