"""A row -> the Signup its route makes of it: the same mapping as a live delivery (`receive.mapping`).

JSONL rows are parsed by the route source's own parser WITHOUT signature verification: the file is the operator's
own export, not a request from the internet. CSV rows become a submission whose answers are the columns (key and
label = the header), so the route's `fields:` mapping and the label matching of live forms apply unchanged;
`--column FIELD=COLUMN` overrides them. Every sign-up needs its real submission time: the policy never
re-subscribes a contact who opted out after it (docs/architecture.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from signup_relay.clock import parse_datetime
from signup_relay.errors import ConfigError, ReceiveError, SubmissionInvalidError
from signup_relay.models import Consent, RawRequest, Signup
from signup_relay.observability import mask_emails_in
from signup_relay.ops.backfill.reading import Row
from signup_relay.receive.answers import label_key
from signup_relay.receive.mapping import map_submission
from signup_relay.receive.submission import Answer, Submission
from signup_relay.routes import ConsentField, FieldMap, Route

SUBMITTED_AT = "submitted_at"
CONSENT = "consent"
CUSTOM_FIELD_PREFIX = "cf:"
# Headers read as the submission time when no --column submitted_at=... is given (compared without case,
# spaces or punctuation): the names form builders' exports use.
TIME_HEADERS = (
    "submittedat",
    "submissiondate",
    "datesubmitted",
    "submittedon",
    "submissiontime",
    "timestamp",
    "createdat",
    "dateadded",
)
# Exports write local-looking times; read without an offset, they are UTC.
TIME_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y")


class RowError(Exception):
    """Why a row makes no sign-up (its `reason` goes to the summary and the failed-rows file)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ColumnMap:
    """`--column` flags: contact field -> CSV column, plus the time, consent and custom field columns."""

    fields: dict[str, str] = field(default_factory=dict)
    submitted_at: str | None = None
    consent: str | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)  # column -> Constant Contact custom field name


def parse_columns(flags: Sequence[str]) -> ColumnMap:
    """`["email=Email Address", "cf:Interest=Topic"]` -> ColumnMap; ConfigError names a flag it cannot use."""
    columns = ColumnMap()
    known = ", ".join((*FieldMap.model_fields, SUBMITTED_AT, CONSENT, "cf:<custom field>"))
    for flag in flags:
        name, sep, column = flag.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise ConfigError(f'--column {flag!r}: write FIELD=COLUMN, e.g. email="Email Address"')
        if name == SUBMITTED_AT:
            columns = replace(columns, submitted_at=column)
        elif name == CONSENT:
            columns = replace(columns, consent=column)
        elif name.startswith(CUSTOM_FIELD_PREFIX) and name[len(CUSTOM_FIELD_PREFIX) :].strip():
            columns.custom_fields[column] = name[len(CUSTOM_FIELD_PREFIX) :].strip()
        elif name in FieldMap.model_fields:
            columns.fields[name] = column
        else:
            raise ConfigError(f"--column {flag!r}: {name!r} is not a field; use one of {known}")
    return columns


def route_with_columns(route: Route, columns: ColumnMap, header: Sequence[str]) -> Route:
    """The route with the `--column` overrides; ConfigError when a named column is not in the header."""
    folded = {name.casefold() for name in header}
    named = [*columns.fields.values(), *columns.custom_fields]
    named += [c for c in (columns.submitted_at, columns.consent) if c]
    missing = [column for column in named if column.casefold() not in folded]
    if missing:
        raise ConfigError(f"no column {', '.join(map(repr, missing))} in the header ({', '.join(header)})")
    update: dict[str, object] = {}
    if columns.fields:
        update["fields"] = route.fields.model_copy(update=columns.fields)
    if columns.custom_fields:
        update["custom_fields"] = {**route.custom_fields, **columns.custom_fields}
    if columns.consent:
        if isinstance(route.consent, ConsentField):
            update["consent"] = route.consent.model_copy(update={"field": columns.consent})
        else:  # a ticked box is explicit; an unticked one keeps what the route grants everyone (never explicit)
            otherwise = "implicit" if route.consent is Consent.IMPLICIT else "none"
            update["consent"] = ConsentField(field=columns.consent, otherwise=otherwise)
    return route.model_copy(update=update) if update else route


def check_columns(route: Route, header: Sequence[str]) -> list[str]:
    """Notes on route fields no column answers (that field stays empty on every row); ConfigError for the email,
    which every row needs, so the run is refused before any call instead of reporting each row bad."""
    from signup_relay.receive.answers import AnswerLookup

    lookup = AnswerLookup(tuple(Answer(key=name, value="x", label=name) for name in header))
    columns = ", ".join(header)
    if (route.fields.email and lookup.find(route.fields.email) is None) or (
        not route.fields.email and lookup.default("email") is None
    ):
        which = (
            f"the route's fields.email ({route.fields.email!r}) names no column"
            if route.fields.email
            else ("no column holds the email")
        )
        raise ConfigError(f"{which}: pass --column email=COLUMN (columns: {columns})")
    named: dict[str, str] = {f"fields.{name}": spec for name, spec in route.fields if spec and name != "email"}
    named |= {f"custom field {name!r}": spec for spec, name in route.custom_fields.items()}
    return [
        f"{where} names {spec!r}, which no column matches: it stays empty (--column to map it)"
        for where, spec in named.items()
        if lookup.find(spec) is None and not lookup.parts(spec)
    ]


def time_column(header: Sequence[str], columns: ColumnMap) -> str | None:
    """The column holding the submission time: `--column submitted_at=...`, else a header export tools use."""
    if columns.submitted_at:
        return next(name for name in header if name.casefold() == columns.submitted_at.casefold())
    squeezed = {label_key(name): name for name in header}
    return next((squeezed[name] for name in TIME_HEADERS if name in squeezed), None)


def parse_time(text: str) -> datetime | None:
    """ISO 8601, epoch seconds/milliseconds, or the US / European forms of exports; no offset = UTC."""
    text = text.strip()
    if text.isdigit():
        return parse_datetime(int(text))
    parsed = parse_datetime(text.removesuffix(" UTC"))
    if parsed is not None:
        return parsed
    for form in TIME_FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class RowMapper:
    """Maps the rows of one export with one route (`route` already carries the `--column` overrides)."""

    route: Route
    now: datetime
    time_column: str | None = None  # CSV
    default_submitted_at: datetime | None = None  # --submitted-at, for rows without a time of their own
    content_type: str = "application/x-www-form-urlencoded"  # --content-type: of JSONL string lines

    def signup(self, row: Row) -> Signup:
        """The row's Signup; RowError says why there is none."""
        submission = self._jsonl(row) if row.line else self._csv(row.cells)
        if submission.submitted_at is None:
            if self.default_submitted_at is None:
                raise RowError(
                    "no submission time: map the column with --column submitted_at=COLUMN, or pass --submitted-at "
                    "(an opt-out after the real submission must win)"
                )
            submission = replace(submission, submitted_at=self.default_submitted_at)
        # The consent evidence (a note, or the route's evidence fields) says the sign-up came in by a backfill.
        submission = replace(submission, source=f"{submission.source} (backfill)")
        try:
            return map_submission(submission, self.route, now=self.now)
        except SubmissionInvalidError as error:
            details = "; ".join(f"{name}: {why}" for name, why in error.field_errors.items())
            raise RowError(mask_emails_in(f"{error.message}: {details}" if details else error.message)) from None
        except ValueError as error:  # any other value mapping cannot use: this row's problem, never the run's
            raise RowError(mask_emails_in(f"unusable value: {str(error).splitlines()[0]}")) from None

    def _jsonl(self, row: Row) -> Submission:
        from signup_relay.receive.sources import get_source

        headers = {"content-type": row.content_type or self.content_type}
        request = RawRequest(path=f"/hooks/{self.route.name}", headers=headers, body=row.body)
        try:
            return get_source(self.route.source).parse(request)
        except ReceiveError as error:
            raise RowError(f"not a {self.route.source} delivery: {mask_emails_in(error.message)}") from None

    def _csv(self, cells: Mapping[str, str]) -> Submission:
        submitted_at = None
        if self.time_column is not None:
            text = cells.get(self.time_column, "").strip()
            if text:
                submitted_at = parse_time(text)
                if submitted_at is None:
                    raise RowError(f"column {self.time_column!r}: {text!r} is not a date and time")
        answers = tuple(Answer(key=name, value=value, label=name) for name, value in cells.items())
        return Submission(
            source=self.route.source, answers=answers, form_name=self.route.form_name, submitted_at=submitted_at
        )
