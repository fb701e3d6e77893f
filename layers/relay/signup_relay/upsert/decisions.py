"""The decisions the V3 and V2 upsert policies share (docs/architecture.md §2 and §10), as functions.

What a contact's prior state is called, which sign-ups are refused before any call, when consent on this form may
bring an opted-out person back, and when an opt-out newer than the submission stands. Each API's policy reads
its own contact shape into these and makes its own calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum

from msgspec.structs import replace

from signup_relay.constant_contact.limits import MAX_EMAIL
from signup_relay.models import Consent, Outcome, Signup, UpsertResult


class ContactState(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    DELETED = "deleted"  # V2: REMOVED (on no list)
    UNSUBSCRIBED = "unsubscribed"  # V2: OPTOUT
    DELETED_UNSUBSCRIBED = "deleted_unsubscribed"


OPTED_OUT = (ContactState.UNSUBSCRIBED, ContactState.DELETED_UNSUBSCRIBED)


class Rejected(Exception):
    """Internal: the sign-up cannot be upserted as configured; becomes Outcome.REJECTED with this reason."""


def check_signup(signup: Signup, email: str) -> None:
    """Refuse, before any call, a sign-up no API could store usefully: no address, too long, no list."""
    if "@" not in email:
        raise Rejected("no usable email address")
    if len(email) > MAX_EMAIL:
        raise Rejected(f"the email address has {len(email)} characters; Constant Contact allows {MAX_EMAIL}")
    if not any(name.strip() for name in signup.lists):
        raise Rejected("the sign-up names no list, and a contact on no list cannot be mailed: add lists to the route")


def missing_names(what: str, names: Iterable[str], option: str) -> Rejected:
    """The rejection for names the account does not have (lists, custom fields, tags)."""
    return Rejected(
        f"{what}(s) not found in Constant Contact: {quoted_names(names)} "
        f"(create them, fix the route, or allow {option})"
    )


def check_may_create(signup: Signup) -> None:
    """Consent `none` creates a contact only where the route allows it."""
    if signup.consent is Consent.NONE and not signup.options.allow_create_without_consent:
        raise Rejected("no consent captured and the route does not allow creating contacts without consent")


def opts_back_in(signup: Signup) -> bool:
    """Whether this sign-up may bring an opted-out person back directly: explicit consent on this form, and the
    route does not ask for an emailed confirmation instead (`confirm_resubscribe_by_email`)."""
    return signup.consent is Consent.EXPLICIT and not signup.options.confirm_resubscribe_by_email


def newer_opt_out(signup: Signup, opted_out: datetime | None) -> tuple[datetime, datetime] | None:
    """(opt-out time, submission time) when the person opted out at or after this submission: that opt-out stands
    whatever the consent. None when it is older, or there is nothing to compare."""
    submitted_at = signup.submitted_at
    if submitted_at is None or opted_out is None or opted_out < submitted_at:
        return None
    return opted_out, submitted_at


def newer_opt_out_reason(opted_out: datetime, submitted_at: datetime, done: str) -> str:
    return (
        f"the opt-out ({iso(opted_out)}) is newer than this submission ({iso(submitted_at)}): "
        f"not resubscribed, no resubscribe email; {done}"
    )


def after_own_create(result: UpsertResult, *, resent: bool) -> UpsertResult:
    """The outcome after a POST's 409 led to a lookup and an update: `created` when the POST had been sent again.

    Its first send went unanswered but was applied (the contact did not exist: the lookup before the POST found
    none), so the resend met the contact that send created. Without a resend, the 409 was someone else's contact.
    """
    if resent and result.outcome is Outcome.UPDATED:
        return replace(
            result,
            outcome=Outcome.CREATED,
            reason="created; the first send went unanswered (or failed) and its resend met the new contact",
        )
    return result


def quoted_names(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
