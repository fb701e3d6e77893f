"""Property-based: the upsert policy's promises hold for stored contacts and sign-ups nobody wrote down.

For any stored contact (any subset of core fields and subresources, any permission, deleted or not) and any
sign-up (any subset of fields, empty or whitespace values, any clear_fields), the merged PUT never blanks what
the form did not send, never drops a list or a custom field, never exceeds an API limit, never moves
permission_to_send on the implicit/none path, and always carries update_source and the address; the
sign_up_form body stays inside its schema. Where a set genuinely cannot fit, the builder raises the typed
ValidationError (a permanent failure with a clear message) instead of sending a body the API would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from signup_relay.constant_contact.limits import (
    MAX_ADDRESSES,
    MAX_CUSTOM_FIELDS,
    MAX_LISTS,
    MAX_NOTE_LENGTH,
    MAX_NOTES,
    MAX_PHONES,
    MAX_TAGS,
    SIGN_UP_FORM_MAX_EMAIL,
)
from signup_relay.constant_contact.names import Resolution
from signup_relay.errors import ValidationError
from signup_relay.models import Address, ConsentEvidence, Signup
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert.bodies import (
    BIRTHDAY_CLEAR_NAMES,
    TEXT_FIELDS,
    ResolvedIds,
    build_consent_note,
    build_create_body,
    build_merged_put,
    build_sign_up_form_body,
)
from signup_relay.upsert.policy import ContactState, contact_state, upsert_contact
from tests.unit.cc_schemas import SIGN_UP_FORM_PROPERTIES
from tests.unit.recording_client import RecordingV3Client

PERMISSIONS = ("explicit", "implicit", "not_set", "pending_confirmation", "temp_hold", "unsubscribed")
PHONE_KINDS = ("home", "work", "mobile", "other")
ADDRESS_KINDS = ("home", "work", "other")
# Id pools a little larger than the limits, so unions can overflow them.
LIST_IDS = [f"list-{i:04d}" for i in range(60)]
TAG_IDS = [f"tag-{i:04d}" for i in range(60)]
FIELD_IDS = [f"cf-{i:04d}" for i in range(30)]
SIGN_UP_FORM_TEXT_LIMITS = {"first_name": 50, "last_name": 50, "job_title": 50, "company_name": 50, "phone_number": 25}
CLEAR_NAMES = (*TEXT_FIELDS, *sorted(BIRTHDAY_CLEAR_NAMES), "phone", "address", "not_a_field")
PROFILE = settings(max_examples=80, deadline=None)


# --- strategies ---------------------------------------------------------------------------------------

blank = st.sampled_from(["", " ", "  ", "\t", " \n "])


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Real values, sometimes padded with whitespace (the mapping enforces the API's length limits)."""
    word = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=max_size)
    return word.filter(lambda s: s.strip() != "") | word.map(lambda s: f" {s.strip()[: max_size - 2]} ").filter(
        lambda s: s.strip() != ""
    )


def maybe_text(max_size: int) -> st.SearchStrategy[str | None]:
    return st.none() | blank | texts(max_size)


phone_numbers = st.from_regex(r"\+?[0-9][0-9 ]{2,19}", fullmatch=True)
anniversaries = st.dates(min_value=datetime(1950, 1, 1).date(), max_value=datetime(2030, 12, 31).date()).map(
    lambda d: d.isoformat()
)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}.example.com",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=40),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20),
).filter(lambda e: len(e) <= 80)


def id_lists(pool: list[str], limit: int, min_size: int = 0) -> st.SearchStrategy[list[str]]:
    """Usually a few ids, often close to (or, for sign-up ids, past) the limit, where the bugs live."""
    few = st.lists(st.sampled_from(pool), unique=True, min_size=min_size, max_size=5)
    many = st.permutations(pool).flatmap(lambda ids: st.integers(limit - 3, limit).map(lambda n: ids[:n]))
    return few | many


@st.composite
def stored_contacts(draw: st.DrawFn) -> dict[str, Any]:
    """A contact as `GET /contacts?status=all&include=...` returns it: any subset of fields, within the limits."""
    contact: dict[str, Any] = {
        "contact_id": "c-0000",
        "email_address": {"address": draw(emails), "permission_to_send": draw(st.sampled_from(PERMISSIONS))},
    }
    for name in ("first_name", "last_name", "job_title", "company_name"):
        value = draw(st.none() | blank | texts(50))
        if value is not None:
            contact[name] = value
    if draw(st.booleans()):
        contact["anniversary"] = draw(anniversaries)
    if draw(st.booleans()):
        contact["birthday_month"] = draw(st.integers(1, 12))
        contact["birthday_day"] = draw(st.integers(1, 31))
    if draw(st.booleans()):
        contact["deleted_at"] = "2026-01-05"
    field_ids = draw(id_lists(FIELD_IDS, MAX_CUSTOM_FIELDS))
    contact["custom_fields"] = [
        {"custom_field_id": field_id, "value": draw(texts(40))}
        | ({"choice_ids": ["choice-1"]} if draw(st.booleans()) else {})
        for field_id in field_ids
    ]
    contact["phone_numbers"] = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "phone_number": st.from_regex(r"\+?[0-9][0-9 ]{2,19}", fullmatch=True),
                    "kind": st.sampled_from(PHONE_KINDS),
                }
            ),
            max_size=MAX_PHONES,
        )
    )
    contact["street_addresses"] = draw(
        st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from(ADDRESS_KINDS)},
                optional={"street": texts(255), "city": texts(50), "postal_code": texts(50), "country": texts(50)},
            ),
            max_size=MAX_ADDRESSES,
        )
    )
    contact["list_memberships"] = draw(id_lists(LIST_IDS, MAX_LISTS))
    contact["taggings"] = draw(id_lists(TAG_IDS, MAX_TAGS))
    note_count = draw(st.sampled_from([0, 1, 3, MAX_NOTES - 1, MAX_NOTES]))
    contact["notes"] = [
        {"note_id": f"n-{i}", "created_at": "2026-01-01T00:00:00Z", "content": f"note {i}"} for i in range(note_count)
    ]
    # The API leaves out empty subresources now and then; so may we.
    for key in ("custom_fields", "phone_numbers", "street_addresses", "list_memberships", "taggings", "notes"):
        if not contact[key] and draw(st.booleans()):
            del contact[key]
    return contact


addresses = st.builds(
    Address,
    kind=st.sampled_from(ADDRESS_KINDS),
    street=maybe_text(255),
    city=maybe_text(50),
    state=maybe_text(50),
    postal_code=maybe_text(50),
    country=maybe_text(50),
)
evidence = st.builds(
    ConsentEvidence,
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    source=st.sampled_from(["tally", "typeform", "generic"]),
    form=st.none() | texts(80),
    ip=st.none() | st.ip_addresses().map(str),
    text=st.none() | texts(3000),  # long wording: the note must still fit in 2000 characters
)
signups = st.builds(
    Signup,
    email=emails,
    first_name=maybe_text(50),
    last_name=maybe_text(50),
    job_title=maybe_text(50),
    company_name=maybe_text(50),
    phone=st.none() | blank | phone_numbers,
    phone_kind=st.sampled_from(PHONE_KINDS),
    address=st.none() | addresses,
    birthday_month=st.none() | st.integers(1, 12),
    birthday_day=st.none() | st.integers(1, 31),
    anniversary=st.none() | blank | anniversaries,
    lists=st.just(("News",)),
    consent=st.sampled_from(list(Consent)),
    consent_evidence=st.none() | evidence,
    clear_fields=st.lists(st.sampled_from(CLEAR_NAMES), unique=True).map(tuple),
    route=st.sampled_from(["", "newsletter"]),
    delivery_id=st.none() | st.text(min_size=1, max_size=40),
)


def field_values(field_ids: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Resolved custom field values: non-empty, up to the 255 characters the mapping allows."""
    value = texts(40) | st.text("xyz ", min_size=255, max_size=255).map(lambda v: "x" + v[1:])
    return st.lists(value, min_size=len(field_ids), max_size=len(field_ids)).map(
        lambda values: dict(zip(field_ids, values, strict=True))
    )


resolved_ids = st.builds(
    ResolvedIds,
    list_ids=id_lists(LIST_IDS, MAX_LISTS + 2, min_size=1),
    custom_field_values=id_lists(FIELD_IDS, MAX_CUSTOM_FIELDS + 2).flatmap(field_values),
    tag_ids=id_lists(TAG_IDS, MAX_TAGS + 2),
)


# --- helpers ------------------------------------------------------------------------------------------


def _non_empty(value: object) -> bool:
    return value is not None and str(value).strip() != ""


def _ids(items: Iterable[Mapping[str, Any]], key: str) -> set[str]:
    return {str(item[key]) for item in items if item.get(key)}


def _would_overflow(existing: Mapping[str, Any], ids: ResolvedIds, *, include_lists: bool) -> bool:
    """True when the stored record plus the sign-up genuinely cannot fit in one contact."""
    lists = set(existing.get("list_memberships") or []) | set(ids.list_ids)
    tags = set(existing.get("taggings") or []) | set(ids.tag_ids)
    fields = _ids(existing.get("custom_fields") or [], "custom_field_id") | set(ids.custom_field_values)
    return (include_lists and len(lists) > MAX_LISTS) or len(tags) > MAX_TAGS or len(fields) > MAX_CUSTOM_FIELDS


def assert_within_contact_limits(body: Mapping[str, Any]) -> None:
    assert len(body.get("phone_numbers", [])) <= MAX_PHONES
    assert len(body.get("street_addresses", [])) <= MAX_ADDRESSES
    assert len(body.get("list_memberships", [])) <= MAX_LISTS
    assert len(body.get("taggings", [])) <= MAX_TAGS
    assert len(body.get("custom_fields", [])) <= MAX_CUSTOM_FIELDS
    assert len(body.get("notes", [])) <= MAX_NOTES
    assert all(len(note.get("content", "")) <= MAX_NOTE_LENGTH for note in body.get("notes", []))
    assert len(body["email_address"]["address"]) <= 80


# --- the merged PUT -----------------------------------------------------------------------------------


@PROFILE
@given(
    existing=stored_contacts(),
    signup=signups,
    ids=resolved_ids,
    update_source=st.sampled_from(["Contact", "Account"]),
    permission=st.none() | st.just("explicit"),
    include_lists=st.booleans(),
)
def test_merged_put_keeps_what_the_form_did_not_change_and_stays_within_the_limits(
    existing: dict[str, Any],
    signup: Signup,
    ids: ResolvedIds,
    update_source: str,
    permission: str | None,
    include_lists: bool,
) -> None:
    # Given any stored contact and any sign-up
    note = build_consent_note(signup)
    # When the merged PUT body is built
    try:
        body = build_merged_put(
            existing,
            signup,
            ids,
            update_source=update_source,
            permission=permission,
            include_lists=include_lists,
            note=note,
        )
    except ValidationError:
        # Then it refuses only what truly cannot fit in one contact
        assert _would_overflow(existing, ids, include_lists=include_lists)
        return
    assert not _would_overflow(existing, ids, include_lists=include_lists)
    clear = set(signup.clear_fields)

    # (a) every stored non-empty core field is kept, unless replaced by a non-empty value or cleared by name
    for name in TEXT_FIELDS:
        sent = getattr(signup, name)
        if _non_empty(sent):
            assert body[name] == sent.strip()
        elif _non_empty(existing.get(name)) and name not in clear:
            assert body[name] == existing[name]
        else:
            assert not _non_empty(body.get(name))
    sent_birthday = signup.birthday_month is not None and signup.birthday_day is not None
    if sent_birthday:
        assert (body["birthday_month"], body["birthday_day"]) == (signup.birthday_month, signup.birthday_day)
    elif existing.get("birthday_month") and not clear & BIRTHDAY_CLEAR_NAMES:
        assert (body["birthday_month"], body["birthday_day"]) == (existing["birthday_month"], existing["birthday_day"])
    assert ("birthday_month" in body) == ("birthday_day" in body)  # the API takes them only together

    # (b) lists only grow (or are left out, which a PUT preserves)
    if include_lists:
        assert set(body["list_memberships"]) >= set(existing.get("list_memberships") or []) | set(ids.list_ids)
    else:
        assert "list_memberships" not in body
    assert set(body.get("taggings", [])) >= set(existing.get("taggings") or [])

    # (c) every stored custom field id is kept; new values win
    sent_fields = {item["custom_field_id"]: item for item in body.get("custom_fields", [])}
    assert set(sent_fields) >= _ids(existing.get("custom_fields") or [], "custom_field_id")
    for field_id, value in ids.custom_field_values.items():
        assert sent_fields[field_id]["value"] == value

    # stored phones and addresses are never dropped (a new one may replace the same kind)
    assert len(body.get("phone_numbers", [])) >= len(existing.get("phone_numbers") or [])
    assert len(body.get("street_addresses", [])) >= len(existing.get("street_addresses") or [])
    # stored notes are kept
    assert _ids(body.get("notes", []), "note_id") >= _ids(existing.get("notes") or [], "note_id")

    # (d) never beyond the API limits
    assert_within_contact_limits(body)

    # (e) the stored permission is kept unless the caller (explicit consent) sets one
    stored_permission = existing["email_address"]["permission_to_send"]
    assert body["email_address"]["permission_to_send"] == (permission or stored_permission)

    # (f) always the schema-required update_source, and the stored address
    assert body["update_source"] == update_source
    assert body["email_address"]["address"] == existing["email_address"]["address"]


# --- create and sign_up_form bodies -------------------------------------------------------------------


@PROFILE
@given(signup=signups, ids=resolved_ids, email=emails.filter(lambda e: len(e) <= SIGN_UP_FORM_MAX_EMAIL))
def test_sign_up_form_body_stays_inside_its_schema(signup: Signup, ids: ResolvedIds, email: str) -> None:
    # Given any sign-up and an address sign_up_form can take
    # When the sign_up_form body is built
    try:
        body = build_sign_up_form_body(signup, email, ids)
    except ValidationError:
        # Then it refuses only more lists than the schema takes, or more custom fields than a contact holds
        assert len(ids.list_ids) > MAX_LISTS or len(ids.custom_field_values) > MAX_CUSTOM_FIELDS
        return
    # Then only schema properties, the email as a string of <= 50 characters, 1-50 lists, <= 25 custom fields
    assert set(body) <= SIGN_UP_FORM_PROPERTIES - {"sms_channel"}  # the relay collects no SMS consent
    assert isinstance(body["email_address"], str) and len(body["email_address"]) <= SIGN_UP_FORM_MAX_EMAIL
    assert 1 <= len(body["list_memberships"]) <= MAX_LISTS
    assert len(body.get("custom_fields", [])) <= MAX_CUSTOM_FIELDS
    assert all(len(item["value"]) <= 255 for item in body.get("custom_fields", []))
    for name, limit in SIGN_UP_FORM_TEXT_LIMITS.items():
        assert name not in body or 0 < len(body[name]) <= limit
    # and nothing empty: a partial update must not send what the form left blank
    assert all(_non_empty(value) for key, value in body.items() if key in TEXT_FIELDS)
    assert ("birthday_month" in body) == ("birthday_day" in body)


@PROFILE
@given(signup=signups, ids=resolved_ids, permission=st.sampled_from(["explicit", "implicit"]))
def test_create_body_stays_within_the_limits(signup: Signup, ids: ResolvedIds, permission: str) -> None:
    # Given any sign-up
    email = signup.email.strip().lower()
    # When the POST /contacts body is built
    try:
        body = build_create_body(signup, email, ids, permission=permission, note=build_consent_note(signup))
    except ValidationError:
        # Then it refuses only what cannot fit in one contact
        limits = ((ids.list_ids, MAX_LISTS), (ids.custom_field_values, MAX_CUSTOM_FIELDS), (ids.tag_ids, MAX_TAGS))
        assert any(len(items) > limit for items, limit in limits)
        return
    # Then within every limit, created by the contact with the permission asked for
    assert_within_contact_limits(body)
    assert body["create_source"] == "Contact"
    assert body["email_address"] == {"address": email, "permission_to_send": permission}


# --- the orchestration: which body goes where ---------------------------------------------------------


class PoolNames:
    """Every name resolves: list and tag names to themselves-as-ids, custom field names likewise."""

    @staticmethod
    def _resolve(names: Iterable[str]) -> Resolution:
        return Resolution(ids={name: name for name in names})

    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._resolve(names)

    def resolve_custom_field_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._resolve(names)

    def resolve_tag_ids(self, names: Iterable[str], *, create_missing: bool = True) -> Resolution:
        return self._resolve(names)


@settings(max_examples=80, deadline=None)
@given(
    existing=st.none() | stored_contacts(),
    signup=signups,
    lists=st.lists(st.sampled_from(LIST_IDS[:10]), unique=True, min_size=1, max_size=3).map(tuple),
    allow_create=st.booleans(),
)
def test_upsert_sends_each_body_where_the_policy_allows(
    existing: dict[str, Any] | None, signup: Signup, lists: tuple[str, ...], allow_create: bool
) -> None:
    # Given any stored contact (or none) found for the sign-up's address
    signup = replace(signup, lists=lists, options=UpsertOptions(allow_create_without_consent=allow_create))
    if existing is not None:
        existing = existing | {"email_address": existing["email_address"] | {"address": signup.email}}
    client = RecordingV3Client(existing)
    state = contact_state(existing)
    # When the sign-up is upserted
    try:
        upsert_contact(signup, client=client, names=PoolNames())
    except ValidationError:
        assert existing is not None and _would_overflow(existing, ResolvedIds(list_ids=list(lists)), include_lists=True)
        return
    # Then sign_up_form (which sets explicit) runs only on explicit consent, with an address of <= 50 characters
    for operation, body in client.writes:
        if operation == "sign_up_form":
            assert signup.consent is Consent.EXPLICIT
            assert len(body["email_address"]) <= SIGN_UP_FORM_MAX_EMAIL
        if operation == "create":
            assert_within_contact_limits(body)
            assert existing is None
            assert body["email_address"]["permission_to_send"] == (
                "explicit" if signup.consent is Consent.EXPLICIT else "implicit"
            )
        if operation == "update":
            assert existing is not None
            assert_within_contact_limits(body)
            stored_permission = existing["email_address"]["permission_to_send"]
            if signup.consent is not Consent.EXPLICIT or stored_permission == "unsubscribed":
                # (e) no consent, no change of permission; an unsubscribed contact's lists are left alone
                assert body["email_address"]["permission_to_send"] == stored_permission
            if stored_permission == "unsubscribed":
                assert "list_memberships" not in body
            elif "list_memberships" in body:
                assert set(body["list_memberships"]) >= set(existing.get("list_memberships") or []) | set(lists)
    # and a deleted contact who had unsubscribed is never revived without explicit consent
    if state is ContactState.DELETED_UNSUBSCRIBED and signup.consent is not Consent.EXPLICIT:
        assert not [op for op, _ in client.writes if op in ("update", "sign_up_form", "create")]
    # and nobody is created without consent unless the route allows it
    if existing is None and signup.consent is Consent.NONE and not allow_create:
        assert client.writes == []
