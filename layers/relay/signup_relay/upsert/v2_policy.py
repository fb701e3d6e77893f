"""The upsert policy on Constant Contact's V2 API (docs/architecture.md §10): the V3 policy's promises and outcomes.

`GET /contacts?email=&status=ALL` first; POST when absent; when present, PUT the full merged record (`v2_bodies`).
Every write is `ACTION_BY_VISITOR` only with explicit consent on this form (V2 then records the person's own opt-in:
V3's `explicit`), else `ACTION_BY_OWNER` (V3's `implicit`): consent is never claimed that the form did not capture.
An `OPTOUT` contact is brought back only with explicit consent on this form and `ACTION_BY_VISITOR`, never by a
submission older than the opt-out; without that it is not written at all (V2 refuses an owner's PUT of an
opted-out contact, and a visitor's PUT would opt them in).
`REMOVED` contacts come back on the route's lists. DELETE is never called (on V2 it unsubscribes).

A 409 from POST means the address exists. The lookup is repeated once (a concurrent writer, or a POST whose answer
was lost); if V2 still cannot see it, it is a contact deleted in the UI, which V2 can neither find nor revive: the
sign-up is written through V3 when the account names a V3 account (`v3_account` in its secret), else it is
rejected to the DLQ with what to do. The 409 message is never parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from msgspec.structs import replace

from signup_relay.caches import per_container
from signup_relay.clock import parse_datetime
from signup_relay.constant_contact.limits import V2_CUSTOM_FIELD
from signup_relay.constant_contact.names import Resolution
from signup_relay.constant_contact.transport import CallMeter
from signup_relay.constant_contact.v2_client import ActionBy
from signup_relay.emails import normalize_email
from signup_relay.errors import ConflictError
from signup_relay.models import Consent, Outcome, Signup, UpsertResult
from signup_relay.observability import logger
from signup_relay.upsert.bodies import build_consent_note, clean_text
from signup_relay.upsert.decisions import (
    ContactState,
    Rejected,
    after_own_create,
    check_may_create,
    check_signup,
    missing_names,
    newer_opt_out,
    newer_opt_out_reason,
    opts_back_in,
)
from signup_relay.upsert.v2_bodies import build_v2_create_body, build_v2_merged_put, contact_email

VISITOR: ActionBy = "ACTION_BY_VISITOR"
OWNER: ActionBy = "ACTION_BY_OWNER"
V2_STATES = {"ACTIVE": ContactState.ACTIVE, "UNCONFIRMED": ContactState.ACTIVE, "REMOVED": ContactState.DELETED}
WRITTEN = (Outcome.CREATED, Outcome.UPDATED, Outcome.REVIVED, Outcome.RESUBSCRIBED)

V3Upsert = Callable[[Signup], UpsertResult]
"""Writes a sign-up through V3 (the V3 policy on the account's V3 credentials): the way past V2's invisible 409."""


class V2UpsertClient(Protocol):
    """The slice of `ConstantContactV2Client` the policy uses (it has no DELETE on purpose)."""

    def meter(self) -> AbstractContextManager[CallMeter]: ...

    def find_contacts_by_email(self, email: str) -> list[dict[str, Any]]: ...

    def create_contact(self, body: Mapping[str, Any], *, action_by: ActionBy) -> dict[str, Any]: ...

    def update_contact(self, contact_id: str, body: Mapping[str, Any], *, action_by: ActionBy) -> dict[str, Any]: ...


class V2Lists(Protocol):
    def resolve_list_ids(self, names: Sequence[str], *, create_missing: bool = False) -> Resolution: ...


def v2_state(contact: Mapping[str, Any] | None) -> ContactState:
    """V2's `status`: ACTIVE / UNCONFIRMED = active, REMOVED (on no list) = deleted, OPTOUT = unsubscribed."""
    if not contact:
        return ContactState.NONE
    status = str(contact.get("status") or contact_email(contact).get("status") or "").upper()
    if status == "OPTOUT":
        return ContactState.UNSUBSCRIBED
    return V2_STATES.get(status, ContactState.ACTIVE)


def v2_opt_out_date(contact: Mapping[str, Any]) -> Any:
    """When an OPTOUT contact opted out. V2 shows an `opt_out_date` (1969-12-31...) on every contact, so it is read
    only for opted-out ones."""
    if v2_state(contact) is not ContactState.UNSUBSCRIBED:
        return None
    return parse_datetime(contact_email(contact).get("opt_out_date"))


def pick_v2_contact(contacts: Sequence[Mapping[str, Any]], email: str) -> dict[str, Any] | None:
    """The row whose address is `email` (never another person's row: the PUT would overwrite it)."""
    for contact in contacts:
        for entry in contact.get("email_addresses") or []:
            if normalize_email(str(entry.get("email_address") or "")) == email:
                return dict(contact)
    return None


@per_container(maxsize=256)
def _say_once(route: str, what: str) -> None:
    # Cached per container: each route's unsupported field is logged once, not on every sign-up.
    logger.info("not sent on Constant Contact V2, which has no such field", extra={"route": route, "field": what})


def upsert_contact_v2(
    signup: Signup, *, client: V2UpsertClient, lists: V2Lists, v3_upsert: V3Upsert | None = None
) -> UpsertResult:
    """Upsert one sign-up through V2 by the shared policy (docs/architecture.md §10)."""
    extra_calls = 0
    with client.meter() as meter:
        try:
            result = _V2Upsert(signup, client, lists, v3_upsert).run()
            extra_calls = result.calls  # calls made through V3, if any
        except Rejected as rejected:
            result = UpsertResult(outcome=Outcome.REJECTED, reason=str(rejected))
    return replace(result, calls=meter.calls + extra_calls)


class _V2Upsert:
    def __init__(self, signup: Signup, client: V2UpsertClient, lists: V2Lists, v3_upsert: V3Upsert | None) -> None:
        self.signup = signup
        self.client = client
        self.lists = lists
        self.v3_upsert = v3_upsert
        self.email = normalize_email(signup.email)
        note = build_consent_note(signup) if signup.options.record_consent_note else None
        self.note = note["content"] if note else None
        self.list_ids: list[str] = []
        self.custom_fields: dict[str, str] = {}

    def run(self) -> UpsertResult:
        check_signup(self.signup, self.email)
        self._mention_unsupported()
        self.custom_fields = self._custom_fields()
        resolved = self.lists.resolve_list_ids(
            list(self.signup.lists), create_missing=self.signup.options.create_missing_lists
        )
        if resolved.missing:
            raise missing_names("list", resolved.missing, "create_missing_lists")
        self.list_ids = resolved.id_list
        return self._apply(self._lookup(), after_conflict=False)

    def _mention_unsupported(self) -> None:
        signup = self.signup
        if signup.birthday_month is not None:
            _say_once(signup.route, "birthday")
        if clean_text(signup.anniversary):
            _say_once(signup.route, "anniversary")
        if signup.tags:
            _say_once(signup.route, "tags")

    def _custom_fields(self) -> dict[str, str]:
        fields = self.signup.custom_fields
        values = {name.strip(): text for name, value in fields.items() if (text := clean_text(value))}
        bad = [name for name in values if not V2_CUSTOM_FIELD.match(name)]
        if bad:
            raise Rejected(
                f"custom field(s) {', '.join(repr(n) for n in bad)} do not exist on Constant Contact V2, which has "
                "CustomField1..CustomField15 only: map the form fields to those names in the route"
            )
        return values

    def _lookup(self) -> dict[str, Any] | None:
        return pick_v2_contact(self.client.find_contacts_by_email(self.email), self.email)

    def _apply(self, existing: dict[str, Any] | None, *, after_conflict: bool) -> UpsertResult:
        state = v2_state(existing)
        if existing is None or state is ContactState.NONE:
            try:
                check_may_create(self.signup)
            except Rejected:
                if self.v3_upsert is None:
                    raise
                # Not to be created, but V2 cannot see a contact deleted in the UI: V3's lookup can, and its
                # policy keeps or revives one as it would on V3 (and rejects the sign-up when there is none).
                why = "V2 finds no contact and this sign-up may not create one; looked up through V3"
                return self._through_v3(self.v3_upsert, why)
            return self._create(after_conflict=after_conflict)
        contact_id = str(existing["id"])
        if state is ContactState.UNSUBSCRIBED:
            return self._opted_out(existing, contact_id)
        self._put(existing, self._action_by())
        if state is ContactState.DELETED:
            return UpsertResult(
                outcome=Outcome.REVIVED, contact_id=contact_id, reason="was REMOVED (on no list); back on the lists"
            )
        return UpsertResult(outcome=Outcome.UPDATED, contact_id=contact_id)

    def _opted_out(self, existing: dict[str, Any], contact_id: str) -> UpsertResult:
        """OPTOUT: only explicit consent on this form, newer than the opt-out, brings them back (as the visitor)."""
        if times := newer_opt_out(self.signup, v2_opt_out_date(existing)):
            reason = newer_opt_out_reason(*times, "nothing written (V2 cannot update an opted-out contact)")
            return UpsertResult(outcome=Outcome.KEPT_UNSUBSCRIBED, contact_id=contact_id, reason=reason)
        if opts_back_in(self.signup):
            self._put(existing, VISITOR)
            return UpsertResult(
                outcome=Outcome.RESUBSCRIBED,
                contact_id=contact_id,
                reason="was OPTOUT; explicit consent on this form, PUT with ACTION_BY_VISITOR",
            )
        why = (
            "the route confirms re-subscriptions by email, which V2 cannot send"
            if self.signup.consent is Consent.EXPLICIT
            else "no explicit consent on this form"
        )
        reason = f"OPTOUT; {why}: nothing written (V2 cannot update an opted-out contact without opting them in)"
        if self.signup.options.send_resubscribe_email:
            reason += "; no resubscribe email (V2 has none)"
        return UpsertResult(outcome=Outcome.KEPT_UNSUBSCRIBED, contact_id=contact_id, reason=reason)

    def _create(self, *, after_conflict: bool) -> UpsertResult:
        body = build_v2_create_body(self.signup, self.email, self.list_ids, self.custom_fields, self.note)
        with self.client.meter() as sent:
            try:
                created = self.client.create_contact(body, action_by=self._action_by())
            except ConflictError:
                if after_conflict:
                    raise
                resent = sent.resent > 0
                existing = self._lookup()
                if existing is not None:  # a concurrent writer, or our own POST whose answer was lost
                    return after_own_create(self._apply(existing, after_conflict=True), resent=resent)
                return self._invisible_conflict()
        return UpsertResult(outcome=Outcome.CREATED, contact_id=str(created.get("id") or "") or None)

    def _invisible_conflict(self) -> UpsertResult:
        """POST said the address exists and `status=ALL` still cannot see it: deleted in the UI."""
        if (v3_upsert := self.v3_upsert) is None:
            raise Rejected(
                "Constant Contact V2 answered 409 (the address exists) but its lookup cannot see the contact: it was "
                "deleted in the Constant Contact UI, and V2 can neither find nor restore it. Restore it in the UI "
                "(Contacts, deleted contacts), or connect a V3 app for this account and name it as `v3_account` in "
                "the account secret (README, V2 accounts), then replay"
            )
        why = "V2 POST answered 409 for an address V2 cannot see (deleted in the UI); written through V3"
        return self._through_v3(v3_upsert, why)

    def _through_v3(self, v3_upsert: V3Upsert, prefix: str) -> UpsertResult:
        """The sign-up by the V3 policy, on the account's V3 app (which sees contacts deleted in the UI).

        V2's CustomFieldN are not V3 custom fields: V3 writes the rest, then V2 (which sees the contact again once V3
        brought it back) writes them with one more lookup and merged PUT.
        """
        result = v3_upsert(replace(self.signup, custom_fields={}))
        if self.custom_fields and result.outcome in WRITTEN:
            existing = self._lookup()
            if existing is not None and v2_state(existing) is not ContactState.UNSUBSCRIBED:
                self._put(existing, self._action_by())
                prefix += ", its V2 custom fields through V2"
        return replace(result, reason=f"{prefix}: {result.reason}" if result.reason else prefix)

    def _action_by(self) -> ActionBy:
        """The visitor acts only when they gave explicit consent on this form; otherwise the account does."""
        return VISITOR if self.signup.consent is Consent.EXPLICIT else OWNER

    def _put(self, existing: Mapping[str, Any], action_by: ActionBy) -> None:
        body = build_v2_merged_put(existing, self.signup, self.list_ids, self.custom_fields, self.note)
        self.client.update_contact(str(existing["id"]), body, action_by=action_by)
