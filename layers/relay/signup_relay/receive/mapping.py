"""Submission + Route -> Signup: find the contact fields, normalize them, keep them within Constant Contact's limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from signup_relay.constant_contact.limits import CUSTOM_FIELD_VALUE_LENGTH, FIELD_LENGTHS, NAME_LENGTH
from signup_relay.emails import InvalidEmailError, validated_email
from signup_relay.errors import SubmissionInvalidError, quoted
from signup_relay.models import Address, Consent, ConsentEvidence, Signup
from signup_relay.receive.answers import AnswerLookup
from signup_relay.receive.submission import (
    Answer,
    Submission,
)
from signup_relay.routes import ConsentField, Route

YES_WORDS = frozenset({"yes", "y", "true", "on", "1", "checked", "agree", "accepted", "ok"})
NO_VALUES = frozenset({"", "no", "n", "false", "off", "0", "unchecked", "none", "null"})
PHONE = re.compile(r"^[0-9+().\-\s/#*]*(\s*(x|ext\.?|extension)\s*[0-9]+)?$", re.IGNORECASE)
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
CLEARABLE = ("first_name", "last_name", "job_title", "company_name", "phone", "anniversary")


class _Mapper:
    def __init__(self, submission: Submission, route: Route, secret: str | None) -> None:
        answers = submission.answers
        if secret and len(secret) >= 8:
            # Some senders echo the route token (e.g. in a webhook URL field): it must never reach a contact.
            answers = tuple(a for a in answers if secret not in a.text)
        self.answers = AnswerLookup(answers)
        self.route = route
        self.errors: dict[str, str] = {}
        self.cleared: list[str] = []

    def answer(self, field: str) -> Answer | None:
        spec = getattr(self.route.fields, field, None) if field != "street2" else None
        if spec:
            return self.answers.find(spec)
        return self.answers.default(field)

    def text(self, field: str) -> str | None:
        """The cleaned value of a contact field, or None; notes empty answers the route may clear."""
        answer = self.answer(field)
        if answer is None:
            return None
        value = " ".join(answer.text.split())
        if not value:
            if self.route.allow_clearing and field in CLEARABLE:
                self.cleared.append(field)
            return None
        return self.fit(field, value, FIELD_LENGTHS.get(field))

    def fit(self, field: str, value: str, limit: int | None) -> str | None:
        if limit is None or len(value) <= limit:
            return value
        if self.route.too_long == "truncate":
            return value[:limit].rstrip()
        self.errors[field] = f"{len(value)} characters; Constant Contact allows at most {limit}"
        return None


def map_submission(submission: Submission, route: Route, *, now: datetime, secret: str | None = None) -> Signup:
    """The Signup this route makes of a submission; SubmissionInvalidError names every unusable field."""
    m = _Mapper(submission, route, secret)
    email = _email(m)
    first_name, last_name = _names(m)
    phone = _phone(m)
    birthday = _birthday(m)
    anniversary = _anniversary(m)
    custom_fields = _custom_fields(m)
    lists = _lists(m)
    consent, consent_text = _consent(m)
    evidence = None
    if consent is not Consent.NONE:
        evidence = ConsentEvidence(
            at=submission.submitted_at or now,
            source=submission.source,
            form=submission.form_name or route.form_name or submission.form_id,
            ip=submission.ip,
            text=consent_text,
        )
        custom_fields.update(_evidence_fields(m, evidence))
    job_title, company_name, address = m.text("job_title"), m.text("company_name"), _address(m)
    if m.errors or email is None:
        raise SubmissionInvalidError(
            "the submission has no usable email or invalid fields",
            dict(sorted(m.errors.items())),
            found=_field_names(submission),
            route=route.name,
        )
    return Signup(
        email=email,
        first_name=first_name,
        last_name=last_name,
        job_title=job_title,
        company_name=company_name,
        phone=phone,
        address=address,
        phone_kind=route.phone_kind,
        birthday_month=birthday[0] if birthday else None,
        birthday_day=birthday[1] if birthday else None,
        anniversary=anniversary,
        custom_fields=custom_fields,
        lists=lists,
        tags=route.tags,
        consent=consent,
        consent_evidence=evidence,
        clear_fields=tuple(dict.fromkeys(m.cleared)),
        options=route.options,
        source=submission.source,
        route=route.name,
        # Namespaced by route: ids of different senders (a Wufoo EntryId 42, a Gravity entry 42) must not collide.
        delivery_id=f"{route.name}:{submission.delivery_id}" if submission.delivery_id else None,
        account=route.account,
        submitted_at=submitted_at(submission, now),
    )


def submitted_at(submission: Submission, now: datetime) -> datetime:
    """The sender's own submission time, never later than `now` (when receive accepted it); else `now`.

    A time in the future (a skewed or forged clock) must not make a submission look newer than an opt-out.
    """
    if submission.submitted_at is None:
        return now
    return min(submission.submitted_at, now)


def _field_names(submission: Submission) -> list[str]:
    """The submission's fields as a route's `fields:` mapping can name them: each label, else its key."""
    names: list[str] = []
    for answer in submission.answers:
        name = answer.label or answer.key
        if name and name not in names:
            names.append(name)
    return names


def _email(m: _Mapper) -> str | None:
    answer = m.answer("email")
    where = f"form field {quoted(m.route.fields.email)}" if m.route.fields.email else "email field"
    if answer is None:
        m.errors["email"] = (
            f"missing: the submission has no {where}; set `fields.email` in the route to the form field that holds "
            "the address (the fields it has are under `found`)"
        )
        return None
    values = [v for v in answer.values if v.strip()]
    if not values:
        m.errors["email"] = f"missing: {quoted(answer.label or answer.key)} is empty"
        return None
    try:
        email = validated_email(values[0])
    except InvalidEmailError as error:
        m.errors["email"] = f"{quoted(answer.label or answer.key)} is not a valid email address: {error}"
        return None
    if len(email) > FIELD_LENGTHS["email"]:
        m.errors["email"] = f"{len(email)} characters; Constant Contact allows at most {FIELD_LENGTHS['email']}"
        return None
    return email


def _names(m: _Mapper) -> tuple[str | None, str | None]:
    first = m.text("first_name")
    last = m.text("last_name")
    if first is None and last is None:
        full = m.answer("full_name")
        if full is not None and full.text.strip():
            split_first, split_last = split_full_name(full.text)
            first = m.fit("first_name", split_first, FIELD_LENGTHS["first_name"]) if split_first else None
            last = m.fit("last_name", split_last, FIELD_LENGTHS["last_name"]) if split_last else None
            if "first_name" in m.cleared:
                m.cleared.remove("first_name")
            if "last_name" in m.cleared:
                m.cleared.remove("last_name")
    return first, last


def split_full_name(full: str) -> tuple[str | None, str | None]:
    """'Ada Lovelace' -> ('Ada', 'Lovelace'); 'Lovelace, Ada' -> ('Ada', 'Lovelace'); 'Ada' -> ('Ada', None)."""
    text = " ".join(full.split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip() or None, last.strip() or None
    first, _, last = text.partition(" ")
    return first or None, last or None


def _phone(m: _Mapper) -> str | None:
    phone = m.text("phone")
    if phone is None:
        return None
    if not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 4:
        m.errors["phone"] = "not a phone number"
        return None
    return phone


def _address(m: _Mapper) -> Address | None:
    street = m.text("street")
    street2 = m.text("street2")
    if street2:
        street = m.fit("street", f"{street}, {street2}" if street else street2, FIELD_LENGTHS["street"])
    parts = {name: m.text(name) for name in ("city", "state", "postal_code", "country")}
    if street is None and not any(parts.values()):
        return None
    return Address(kind=m.route.address_kind, street=street, **parts)


def parse_month_day(text: str) -> tuple[int, int] | None:
    """Month and day of a date in the usual form formats: ISO, MM/DD/YYYY (DD/MM when unambiguous), 'March 1'."""
    text = text.strip().lower()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "+00:00"))
        return parsed.month, parsed.day
    except ValueError:
        pass
    words = re.findall(r"[a-z]+|[0-9]{1,4}", text)
    numbers = [int(w) for w in words if w.isdigit()]
    month_names = [MONTHS[w] for w in words if w in MONTHS]
    if month_names:
        days = [n for n in numbers if 1 <= n <= 31]
        month, day = month_names[0], days[0] if days else 0
    elif len(numbers) >= 2:
        if numbers[0] > 31:  # YYYY/MM/DD
            numbers = numbers[1:]
        if len(numbers) < 2:
            return None
        month, day = numbers[0], numbers[1]
        if month > 12 >= day:  # DD/MM
            month, day = day, month
    else:
        return None
    try:
        date(2000, month, day)  # a leap year, so 02/29 is a valid birthday
    except (ValueError, OverflowError):
        return None
    return month, day


def _birthday(m: _Mapper) -> tuple[int, int] | None:
    spec = m.route.fields.birthday
    answer = m.answer("birthday")
    if answer is None and spec:
        parts = m.answers.parts(spec)
        if "month" in parts and "day" in parts:
            text = f"{parts['month']}/{parts['day']}"
        else:
            return None
    elif answer is None or not answer.text.strip():
        return None
    else:
        text = answer.text
    parsed = parse_month_day(text)
    if parsed is None:
        m.errors["birthday"] = "not a date with a month and a day"
    return parsed


def _anniversary(m: _Mapper) -> str | None:
    answer = m.answer("anniversary")
    if answer is None or not answer.text.strip():
        return None
    text = answer.text.strip()
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    numbers = [int(n) for n in re.findall(r"[0-9]{1,4}", text)]
    if len(numbers) == 3 and numbers[2] > 31:
        month, day, year = numbers
        if month > 12 >= day:
            month, day = day, month
        try:
            return date(year, month, day).isoformat()
        except (ValueError, OverflowError):
            pass
    m.errors["anniversary"] = "not a date (use YYYY-MM-DD or MM/DD/YYYY)"
    return None


def _custom_fields(m: _Mapper) -> dict[str, str]:
    values: dict[str, str] = {}
    for form_field, custom_field in m.route.custom_fields.items():
        answer = m.answers.find(form_field)
        if answer is None:
            parts = m.answers.parts(form_field)
            text = " ".join(v for v in parts.values() if v)
        else:
            text = answer.text
        text = text.strip()
        if not text:
            continue
        fitted = m.fit(f"custom_fields.{custom_field}", text, CUSTOM_FIELD_VALUE_LENGTH)
        if fitted is not None:
            values[custom_field] = fitted
    return values


def _choices(answer: Answer, known: Iterable[str]) -> list[str]:
    """A choice answer's selected options: arrays as sent; text split on '||' (WPForms) or ',' (Zapier)."""
    if isinstance(answer.value, tuple):
        return [v.strip() for v in answer.value if v.strip()]
    text = answer.value.strip()
    known_folded = {k.casefold() for k in known}
    if not text:
        return []
    if text.casefold() in known_folded:
        return [text]
    separator = "||" if "||" in text else ","
    return [part.strip() for part in text.split(separator) if part.strip()]


def _lists(m: _Mapper) -> tuple[str, ...]:
    lists = list(m.route.lists)
    spec = m.route.list_field
    if spec is not None:
        answer = m.answers.find(spec.field)
        if answer is not None:
            mapping = {choice.casefold(): name for choice, name in spec.choices.items()}
            for choice in _choices(answer, spec.choices):
                if mapping:
                    name = mapping.get(choice.casefold())
                    if name is not None:
                        lists.append(name)
                elif len(choice) <= NAME_LENGTH:
                    lists.append(choice)
    return tuple(dict.fromkeys(lists))


def _consent(m: _Mapper) -> tuple[Consent, str | None]:
    mode = m.route.consent
    if not isinstance(mode, ConsentField):
        return mode, None
    answer = m.answers.find(mode.field)
    if answer is None:
        return Consent(mode.otherwise), None
    chosen = [v.strip().casefold() for v in answer.values]
    if mode.values:
        yes = {v.strip().casefold() for v in mode.values}
        agreed = any(v in yes for v in chosen)
    else:
        agreed = any(v not in NO_VALUES for v in chosen)
    if not agreed:
        return Consent(mode.otherwise), None
    # The checkbox's own wording ("I agree to receive emails") is the best evidence; else the question.
    wording = answer.text.strip()
    if wording.casefold() in YES_WORDS or len(wording) > 255:
        wording = answer.label or answer.key
    return Consent.EXPLICIT, wording


def _evidence_fields(m: _Mapper, evidence: ConsentEvidence) -> dict[str, str]:
    names = m.route.consent_custom_fields
    if names is None:
        return {}
    values = {
        names.at: evidence.at.isoformat(),
        names.source: evidence.source,
        names.form: evidence.form,
        names.ip: evidence.ip,
        names.text: evidence.text,
    }
    return {name: value[:CUSTOM_FIELD_VALUE_LENGTH] for name, value in values.items() if name and value}
