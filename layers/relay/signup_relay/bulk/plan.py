"""Who goes how: one import row per person whose sign-ups the import can carry, the rest per contact.

A person (normalised address) is imported only when every one of their sign-ups in the run can be: the import
gives new contacts `implicit` permission, cannot write notes, clear fields, send the resubscribe email or tell
a deleted contact from an unknown one, and takes addresses of at most 50 characters
(docs/architecture.md §11). Otherwise all of that person's sign-ups go per contact, in their order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from signup_relay.bulk.rows import RowRefused, consent_evidence_text, import_row
from signup_relay.constant_contact.limits import IMPORT_MAX_EMAIL, MAX_LISTS, MAX_TAGS
from signup_relay.emails import normalize_email
from signup_relay.models import Consent, Signup
from signup_relay.upsert.bodies import clean_text
from signup_relay.upsert.policy import ContactState, UpsertNames


@dataclass
class Person:
    """One import row and the sign-ups (indices into the run, oldest first) it carries."""

    email: str
    indices: list[int]
    row: dict[str, Any] = field(default_factory=dict)
    list_ids: tuple[str, ...] = ()
    tag_ids: tuple[str, ...] = ()
    field_ids: dict[str, str] = field(default_factory=dict)  # custom field API name (as in `row`) -> id
    prior: ContactState = ContactState.NONE  # ACTIVE here means "not deleted, not unsubscribed, maybe new"


@dataclass
class Plan:
    persons: list[Person]
    per_contact: dict[int, str]  # index -> why it goes per contact


def rule_out(signup: Signup) -> str | None:
    """Why this sign-up alone must go per contact, None when the import could carry it."""
    email = normalize_email(signup.email)
    options = signup.options
    if "@" not in email or len(email) > IMPORT_MAX_EMAIL:
        return "the address is not one the import takes (at most 50 characters)"
    if not any(name.strip() for name in signup.lists):
        return "no list"
    if options.api == "v2":
        return "the route uses the V2 API (the import is V3's)"
    if signup.consent is Consent.EXPLICIT:
        return "explicit consent (an import makes new contacts implicit)"
    if signup.consent is Consent.NONE and not options.allow_create_without_consent:
        return "no consent: only an existing contact may be updated"
    if signup.clear_fields:
        return "fields to clear (an import only sets values)"
    if options.send_resubscribe_email:
        return "the route sends the resubscribe email"
    try:
        consent_evidence_text(signup)
    except RowRefused as refused:
        return str(refused)
    return None


def plan_import(
    signups: Sequence[Signup],
    *,
    names: UpsertNames,
    consent_field: Callable[[], tuple[str, str] | None],
) -> Plan:
    """Split the run; `consent_field()` gives the evidence field's (name, id) (called only when some person can be
    imported with evidence)."""
    per_contact: dict[int, str] = {}
    by_person: dict[str, list[int]] = {}
    for index, signup in enumerate(signups):
        by_person.setdefault(normalize_email(signup.email), []).append(index)
        if (why := rule_out(signup)) is not None:
            per_contact[index] = why
    persons: list[Person] = []
    for email, indices in by_person.items():
        if any(i in per_contact for i in indices):
            for i in indices:
                per_contact.setdefault(i, "another sign-up of the same person goes per contact")
            continue
        try:
            persons.append(_person(email, [signups[i] for i in indices], indices, names, consent_field))
        except RowRefused as refused:
            for i in indices:
                per_contact[i] = str(refused)
    return Plan(persons=persons, per_contact=dict(sorted(per_contact.items())))


def _person(
    email: str,
    signups: Sequence[Signup],
    indices: list[int],
    names: UpsertNames,
    consent_field: Callable[[], tuple[str, str] | None],
) -> Person:
    list_ids: dict[str, None] = {}
    tag_ids: dict[str, None] = {}
    fields_by_signup: list[dict[str, str]] = []
    field_ids: dict[str, str] = {}
    for signup in signups:
        options = signup.options
        lists = names.resolve_list_ids(signup.lists, create_missing=options.create_missing_lists)
        wanted = {name: value for name, value in signup.custom_fields.items() if clean_text(value)}
        fields = names.resolve_custom_field_ids(wanted, create_missing=options.create_missing_custom_fields)
        tags = names.resolve_tag_ids(signup.tags, create_missing=options.create_missing_tags)
        if lists.missing or fields.missing or tags.missing:
            raise RowRefused("a list, custom field or tag name does not resolve (the policy says which)")
        list_ids |= dict.fromkeys(lists.id_list)
        tag_ids |= dict.fromkeys(tags.id_list)
        named: dict[str, str] = {}
        for name, value in wanted.items():
            if (api_name := names.custom_field_name(fields.ids[name.strip()])) is None:
                raise RowRefused(f"custom field {name!r} has no API name to import it by")
            named[api_name] = value
            field_ids[api_name] = fields.ids[name.strip()]
        fields_by_signup.append(named)
    if len(list_ids) > MAX_LISTS or len(tag_ids) > MAX_TAGS:
        raise RowRefused("more lists or tags than a contact holds")
    evidence_field = None
    if any(s.consent_evidence and s.options.record_consent_note for s in signups):
        if (evidence_field := consent_field()) is None:
            raise RowRefused("the consent evidence field is unavailable")
        field_ids[evidence_field[0]] = evidence_field[1]
    row = import_row(email, signups, fields_by_signup, consent_field=evidence_field[0] if evidence_field else None)
    return Person(email, indices, row, tuple(sorted(list_ids)), tuple(tag_ids), field_ids)
