"""The upsert policy (docs/architecture.md §2): one sign-up in, one honest outcome out, no data or consent lost.

Every sign-up starts with one lookup, `GET /contacts?email=...&status=all&include=<all subresources>`:
the prior state decides the path and lets us report revived / resubscribed / kept_unsubscribed truthfully,
and a PUT is only ever built from that full record merged with the new data.

| prior state  | explicit consent                                   | implicit / none                           |
|--------------|----------------------------------------------------|-------------------------------------------|
| none         | sign_up_form (<= 50 chars) else POST explicit      | POST implicit, create_source Contact      |
| active       | sign_up_form else merged PUT, permission explicit  | merged PUT, permission unchanged          |
| deleted      | sign_up_form else merged PUT, Account + lists      | merged PUT, update_source Account + lists |
| unsubscribed | sign_up_form (resubscribed) else resubscribe email | profile-only PUT (+ optional resubscribe) |
|              | (confirm_resubscribe_by_email: resubscribe email)  |                                           |

A deleted contact that is also unsubscribed is never revived without explicit consent, and no unsubscribed contact
is re-subscribed (or sent the resubscribe email) by a submission older than their opt-out: a late replay or DLQ
replay of an old sign-up must not undo a newer unsubscribe. On public forms a route may set
`confirm_resubscribe_by_email`: explicit consent from an unsubscribed contact then sends the one-time resubscribe
confirmation email instead of sign_up_form. A 409 from POST means "the address exists" (typically a deleted
contact): we look it up again and take the PUT path; the 409 message text is never parsed. Consent evidence goes in
a note in the same POST/PUT; on the sign_up_form path (which cannot carry notes or tags) it costs two extra calls,
so it is written only when `options.consent_note_on_sign_up_form` is set; tags then ride on that PUT, otherwise they
are added with one `contacts_taggings_add` activity. A stored contact's new phone also goes by that PUT, by its kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from msgspec.structs import replace

from signup_relay.clock import parse_datetime
from signup_relay.constant_contact.limits import SIGN_UP_FORM_MAX_EMAIL
from signup_relay.constant_contact.names import Resolution
from signup_relay.constant_contact.transport import CallMeter
from signup_relay.emails import normalize_email
from signup_relay.errors import ConflictError
from signup_relay.models import Consent, Outcome, Signup, UpsertResult
from signup_relay.upsert.bodies import (
    ResolvedIds,
    build_consent_note,
    build_create_body,
    build_merged_put,
    build_sign_up_form_body,
    clean_text,
    is_new_phone,
)
from signup_relay.upsert.decisions import (
    OPTED_OUT,
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

__all__ = ["ContactState", "contact_state", "opt_out_date", "pick_contact", "stored_email", "upsert_contact"]


class UpsertClient(Protocol):
    """The slice of `ConstantContactClient` the policy uses."""

    def meter(self) -> AbstractContextManager[CallMeter]: ...

    def find_contacts_by_email(self, email: str) -> list[dict[str, Any]]: ...

    def get_contact(self, contact_id: str) -> dict[str, Any]: ...

    def create_contact(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def sign_up_form(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def resubscribe_contact(self, contact_id: str, list_ids: Sequence[str]) -> dict[str, Any]: ...

    def add_taggings(self, contact_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]: ...


class UpsertNames(Protocol):
    """The slice of `NameDirectory` the policy (and the bulk path) uses."""

    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution: ...

    def resolve_custom_field_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution: ...

    def resolve_tag_ids(self, names: Iterable[str], *, create_missing: bool = True) -> Resolution: ...

    def custom_field_name(self, field_id: str) -> str | None: ...


# --- state ---------------------------------------------------------------------------------------------


def contact_state(contact: Mapping[str, Any] | None) -> ContactState:
    """Read the state the way the API exposes it: `deleted_at` and `email_address.permission_to_send`."""
    if not contact:
        return ContactState.NONE
    unsubscribed = (contact.get("email_address") or {}).get("permission_to_send") == "unsubscribed"
    deleted = bool(contact.get("deleted_at"))
    if deleted and unsubscribed:
        return ContactState.DELETED_UNSUBSCRIBED
    if deleted:
        return ContactState.DELETED
    if unsubscribed:
        return ContactState.UNSUBSCRIBED
    return ContactState.ACTIVE


def opt_out_date(contact: Mapping[str, Any]) -> datetime | None:
    """When the contact opted out, None when absent or unreadable: `email_address.opt_out_date`, an ISO-8601
    date-time the API shows only on unsubscribed contacts (the V3 `EmailAddress` schema,
    https://developer.constantcontact.com/api_reference/index.html)."""
    return parse_datetime((contact.get("email_address") or {}).get("opt_out_date"))


def pick_contact(contacts: Sequence[Mapping[str, Any]], email: str) -> dict[str, Any] | None:
    """The row whose address is `email`, else None.

    The API should return at most one exact match; a row for another address is never taken, because the merged
    PUT would write this sign-up's profile onto someone else's contact. Without a match the POST path runs, and
    its 409 (if the address does exist) leads to a second lookup, then a retry.
    """
    for contact in contacts:
        if stored_email(contact) == email:
            return dict(contact)
    return None


def stored_email(contact: Mapping[str, Any]) -> str:
    """The contact's address, normalised as a sign-up's is (so the two compare)."""
    return normalize_email(str((contact.get("email_address") or {}).get("address") or ""))


# --- orchestration --------------------------------------------------------------------------------------


def upsert_contact(signup: Signup, *, client: UpsertClient, names: UpsertNames) -> UpsertResult:
    """Upsert one sign-up by the policy (docs/architecture.md §2).

    Returns the outcome (REJECTED with a reason when the sign-up cannot be applied as configured) or raises a
    TransientError / PermanentError subclass.
    """
    with client.meter() as meter:
        try:
            result = _Upsert(signup, client, names).run()
        except Rejected as rejected:
            result = UpsertResult(outcome=Outcome.REJECTED, reason=str(rejected))
    return replace(result, calls=meter.calls)


class _Upsert:
    def __init__(self, signup: Signup, client: UpsertClient, names: UpsertNames) -> None:
        self.signup = signup
        self.options = signup.options
        self.client = client
        self.names = names
        self.email = normalize_email(signup.email)
        self.ids = ResolvedIds()
        self.note = build_consent_note(signup) if signup.options.record_consent_note else None

    def run(self) -> UpsertResult:
        self._check_signup()
        self.ids = self._resolve_names()
        existing = self._lookup()
        return self._apply(existing, after_conflict=False)

    # --- preparation ---

    def _check_signup(self) -> None:
        check_signup(self.signup, self.email)

    def _resolve_names(self) -> ResolvedIds:
        lists = self.names.resolve_list_ids(self.signup.lists, create_missing=self.options.create_missing_lists)
        if lists.missing:
            raise missing_names("list", lists.missing, "create_missing_lists")
        wanted_fields = {name: value for name, value in self.signup.custom_fields.items() if clean_text(value)}
        fields = self.names.resolve_custom_field_ids(
            wanted_fields, create_missing=self.options.create_missing_custom_fields
        )
        if fields.missing:
            raise missing_names("custom field", fields.missing, "create_missing_custom_fields")
        tags = self.names.resolve_tag_ids(self.signup.tags, create_missing=self.options.create_missing_tags)
        if tags.missing:
            raise missing_names("tag", tags.missing, "create_missing_tags")
        values: dict[str, str] = {}
        for name, value in wanted_fields.items():
            values[fields.ids[name.strip()]] = str(value).strip()
        return ResolvedIds(list_ids=lists.id_list, custom_field_values=values, tag_ids=tags.id_list)

    def _lookup(self) -> dict[str, Any] | None:
        return pick_contact(self.client.find_contacts_by_email(self.email), self.email)

    # --- paths ---

    def _apply(self, existing: dict[str, Any] | None, *, after_conflict: bool) -> UpsertResult:
        state = contact_state(existing)
        if existing is not None and state in OPTED_OUT and (times := self._opted_out_since_submission(existing)):
            return self._keep_newer_opt_out(state, existing, *times)
        if self.signup.consent is Consent.EXPLICIT:
            if existing is not None and state in OPTED_OUT and not opts_back_in(self.signup):
                return self._confirm_by_email(state, existing, why="the route confirms re-subscriptions by email")
            if len(self.email) <= SIGN_UP_FORM_MAX_EMAIL:
                return self._sign_up_form(state, existing)
            return self._explicit_long(state, existing, after_conflict=after_conflict)
        return self._without_explicit_consent(state, existing, after_conflict=after_conflict)

    def _sign_up_form(self, state: ContactState, existing: dict[str, Any] | None) -> UpsertResult:
        # sign_up_form takes one phone without a kind, and how it fits a stored contact's phones is undocumented
        # (it may push out one of the 3): a new phone for a stored contact goes in the merged PUT, by its kind.
        phone_by_put = existing is not None and is_new_phone(existing.get("phone_numbers") or [], self.signup.phone)
        form_signup = replace(self.signup, phone=None) if phone_by_put else self.signup
        with self.client.meter() as sent:
            answer = self.client.sign_up_form(build_sign_up_form_body(form_signup, self.email, self.ids))
        contact_id = str(answer.get("contact_id") or (existing or {}).get("contact_id") or "")
        outcome, reason = {
            ContactState.NONE: (Outcome.CREATED, None),
            ContactState.ACTIVE: (Outcome.UPDATED, None),
            ContactState.DELETED: (Outcome.REVIVED, "was deleted; sign_up_form restored it"),
            ContactState.UNSUBSCRIBED: (
                Outcome.RESUBSCRIBED,
                "was unsubscribed; explicit consent on this form, sign_up_form set permission explicit",
            ),
            ContactState.DELETED_UNSUBSCRIBED: (
                Outcome.RESUBSCRIBED,
                "was deleted and unsubscribed; explicit consent on this form, sign_up_form restored it as explicit",
            ),
        }[state]
        if state is ContactState.NONE and answer.get("action") == "updated" and not sent.resent:
            # Created by a concurrent writer between our lookup and this call (after a resend: by our first send).
            outcome = Outcome.UPDATED
        known_tags = set((existing or {}).get("taggings") or [])
        note_by_put = bool(self.note and self.options.consent_note_on_sign_up_form)
        if contact_id and (note_by_put or phone_by_put):
            # sign_up_form takes no notes or tags: one GET + merged PUT adds them, and the phone kept back above.
            fresh = self.client.get_contact(contact_id)
            note = self.note if note_by_put else None
            # sign_up_form has set the lists and the permission: the PUT leaves both as the fresh read shows them.
            body = build_merged_put(
                fresh, self.signup, self.ids, update_source="Contact", include_lists=False, note=note
            )
            self.client.update_contact(contact_id, body)
        elif contact_id and (missing := [t for t in self.ids.tag_ids if t not in known_tags]):
            self.client.add_taggings([contact_id], missing)
        return UpsertResult(outcome=outcome, contact_id=contact_id or None, reason=reason)

    def _explicit_long(
        self, state: ContactState, existing: dict[str, Any] | None, *, after_conflict: bool
    ) -> UpsertResult:
        """Explicit consent, 51-80 character address: sign_up_form cannot take it."""
        if state is ContactState.NONE or existing is None:
            return self._create("explicit", after_conflict=after_conflict)
        contact_id = str(existing["contact_id"])
        if state is ContactState.ACTIVE:
            self._put(existing, update_source="Contact", permission="explicit")
            return UpsertResult(outcome=Outcome.UPDATED, contact_id=contact_id)
        if state is ContactState.DELETED:
            self._put(existing, update_source="Account", permission="explicit")
            return UpsertResult(
                outcome=Outcome.REVIVED, contact_id=contact_id, reason="was deleted; revived with update_source Account"
            )
        return self._confirm_by_email(
            state, existing, why="the address is longer than 50 characters so sign_up_form cannot opt it back in"
        )

    def _confirm_by_email(self, state: ContactState, existing: dict[str, Any], *, why: str) -> UpsertResult:
        """Explicit consent from an unsubscribed contact, not applied directly: the one-time confirmation email
        (the contact is resubscribed, onto the sign-up's lists, only once they confirm it)."""
        contact_id = str(existing["contact_id"])
        if state is ContactState.UNSUBSCRIBED:
            # Record the profile and the consent evidence; permission and lists stay as the contact left them.
            self._put(existing, update_source="Contact", include_lists=False)
        # Deleted and unsubscribed: no write (a PUT would revive it); the email alone asks them back.
        sent = self._resubscribe(contact_id)
        return UpsertResult(
            outcome=Outcome.KEPT_UNSUBSCRIBED,
            contact_id=contact_id,
            reason=(
                f"unsubscribed; {why}: "
                + ("sent the one-time resubscribe confirmation email" if sent else "resubscribe email already sent")
            ),
        )

    def _opted_out_since_submission(self, existing: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
        """(opt-out time, submission time) when the contact opted out at or after this submission; None otherwise,
        or when there is nothing to compare (a sign-up without `submitted_at`, a contact without `opt_out_date`)."""
        return newer_opt_out(self.signup, opt_out_date(existing))

    def _keep_newer_opt_out(
        self, state: ContactState, existing: dict[str, Any], opted_out: datetime, submitted_at: datetime
    ) -> UpsertResult:
        """Whatever the consent: an opt-out at or after the submission stands (no permission, no sign_up_form, no
        resubscribe email); the profile is updated as for any unsubscribed contact without consent."""
        contact_id = str(existing["contact_id"])
        if state is ContactState.UNSUBSCRIBED:
            self._put(existing, update_source="Contact", include_lists=False)
            done = "profile updated, permission and lists untouched"
        else:
            done = "not revived, nothing changed"  # a PUT would revive a deleted contact
        return UpsertResult(
            outcome=Outcome.KEPT_UNSUBSCRIBED,
            contact_id=contact_id,
            reason=newer_opt_out_reason(opted_out, submitted_at, done),
        )

    def _without_explicit_consent(
        self, state: ContactState, existing: dict[str, Any] | None, *, after_conflict: bool
    ) -> UpsertResult:
        if state is ContactState.NONE or existing is None:
            check_may_create(self.signup)
            return self._create("implicit", after_conflict=after_conflict)
        contact_id = str(existing["contact_id"])
        if state is ContactState.ACTIVE:
            self._put(existing, update_source="Contact")
            return UpsertResult(outcome=Outcome.UPDATED, contact_id=contact_id)
        if state is ContactState.DELETED:
            self._put(existing, update_source="Account")
            return UpsertResult(
                outcome=Outcome.REVIVED, contact_id=contact_id, reason="was deleted; revived with update_source Account"
            )
        if state is ContactState.UNSUBSCRIBED:
            self._put(existing, update_source="Contact", include_lists=False)
            reason = "unsubscribed: profile updated, permission and lists untouched"
        else:
            # A PUT would revive the contact; an unsubscribed person is not brought back without consent.
            reason = "deleted and unsubscribed: not revived, nothing changed"
        if self.options.send_resubscribe_email:
            sent = self._resubscribe(contact_id)
            reason += "; " + ("sent the one-time resubscribe email" if sent else "resubscribe email already sent")
        return UpsertResult(outcome=Outcome.KEPT_UNSUBSCRIBED, contact_id=contact_id, reason=reason)

    # --- calls ---

    def _create(self, permission: str, *, after_conflict: bool) -> UpsertResult:
        body = build_create_body(self.signup, self.email, self.ids, permission=permission, note=self.note)
        with self.client.meter() as sent:
            try:
                created = self.client.create_contact(body)
            except ConflictError:
                # "Email already exists": a deleted contact the lookup raced with, or our own lost answer. Look again.
                if after_conflict:
                    raise
                resent = sent.resent > 0
                existing = self._lookup()
                if existing is None:
                    raise
                return after_own_create(self._apply(existing, after_conflict=True), resent=resent)
        return UpsertResult(outcome=Outcome.CREATED, contact_id=str(created.get("contact_id") or "") or None)

    def _put(
        self,
        existing: Mapping[str, Any],
        *,
        update_source: str,
        permission: str | None = None,
        include_lists: bool = True,
    ) -> None:
        body = build_merged_put(
            existing,
            self.signup,
            self.ids,
            update_source=update_source,
            permission=permission,
            include_lists=include_lists,
            note=self.note,
        )
        self.client.update_contact(str(existing["contact_id"]), body)

    def _resubscribe(self, contact_id: str) -> bool:
        """True when the confirmation email was sent now; False when it had been sent before (409)."""
        try:
            self.client.resubscribe_contact(contact_id, self.ids.list_ids)
        except ConflictError:
            return False
        return True
