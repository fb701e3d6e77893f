"""backfill's pure parts: reading export files, --column flags and times, the checkpoint file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from signup_relay.errors import ConfigError
from signup_relay.ops.backfill.checkpoint import Checkpoint, Done
from signup_relay.ops.backfill.mapping import (
    RowError,
    RowMapper,
    check_columns,
    parse_columns,
    parse_time,
    route_with_columns,
    time_column,
)
from signup_relay.ops.backfill.reading import BadRow, Row, open_export
from signup_relay.routes import Consent, ConsentField, Route

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def route(**overrides: object) -> Route:
    values: dict[str, object] = {"name": "past", "source": "generic", "secret": {"key": "past"}, "consent": "implicit"}
    return Route.model_validate({**values, **overrides})


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    # Given a UTF-8 export with a BOM, a blank line and a short row
    path = tmp_path / "e.csv"
    path.write_bytes("\ufeffEmail,Name\r\na@example.com,Ann\r\n\r\nb@example.com\r\n".encode())
    # When it is read
    export = open_export(path)
    rows = list(export.rows())
    # Then the header is row 1, the blank line keeps its number, the short row is a bad row
    assert export.header == ("Email", "Name")
    assert rows[0] == Row(2, {"Email": "a@example.com", "Name": "Ann"})
    assert isinstance(rows[1], BadRow) and rows[1].number == 4 and "1 cells" in rows[1].reason
    assert export.count() == 2


def test_a_failed_rows_file_reads_back_without_its_reason_column(tmp_path: Path) -> None:
    path = tmp_path / "e.failed.csv"
    path.write_text("Email,backfill_error\na@example.com,email: not an address\n")
    assert list(open_export(path).rows()) == [Row(2, {"Email": "a@example.com"})]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("e.txt", "x", "cannot tell the format"),
        ("e.csv", ",\n", "no header row"),
        ("e.csv", "Email,Email\n", "more than once: Email"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        open_export(path)


def test_jsonl_lines_are_json_bodies_or_strings_holding_one(tmp_path: Path) -> None:
    # Given a JSON body, a form-encoded body as a JSON string, a number and a broken line
    path = tmp_path / "e.jsonl"
    path.write_text('{"email": "a@example.com"}\n"email=b%40example.com"\n42\n{oops\n')
    rows = list(open_export(path).rows())
    # Then the bodies keep their bytes (JSON typed as such), the others are bad rows with the line as written
    assert rows[0] == Row(1, body=b'{"email": "a@example.com"}', content_type="application/json", line=rows[0].line)
    assert rows[1] == Row(2, body=b"email=b%40example.com", line='"email=b%40example.com"')
    assert [(r.number, type(r).__name__) for r in rows[2:]] == [(3, "BadRow"), (4, "BadRow")]
    assert isinstance(rows[3], BadRow) and rows[3].line == "{oops" and rows[3].reason.startswith("not JSON")


def test_column_flags_name_fields_time_consent_and_custom_fields() -> None:
    columns = parse_columns(["email=Email Address", "submitted_at=Date", "consent=OK", "cf:Topic=Interest"])
    assert columns.fields == {"email": "Email Address"}
    assert (columns.submitted_at, columns.consent, columns.custom_fields) == ("Date", "OK", {"Interest": "Topic"})
    with pytest.raises(ConfigError, match="'mail' is not a field"):
        parse_columns(["mail=Email"])
    with pytest.raises(ConfigError, match="FIELD=COLUMN"):
        parse_columns(["email"])


def test_a_consent_column_makes_ticked_rows_explicit_and_never_raises_the_rest() -> None:
    # Given an implicit route and a consent column
    columns = parse_columns(["consent=OK"])
    mapped = route_with_columns(route(), columns, ["Email", "OK", "Date"])
    # Then the column decides: ticked = explicit, else the route's implicit
    assert mapped.consent == ConsentField(field="OK", otherwise="implicit")
    # And for an explicit route an unticked box is not consent
    explicit = route_with_columns(route(consent="explicit"), columns, ["OK"])
    assert explicit.consent == ConsentField(field="OK", otherwise="none")
    with pytest.raises(ConfigError, match="no column 'Nope'"):
        route_with_columns(route(), parse_columns(["email=Nope"]), ["Email"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01 10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01 10:00:00 UTC", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("03/01/2024 10:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("1709287200", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("yesterday", None),
    ],
)
def test_submission_times_in_export_formats(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_the_time_column_is_found_by_common_export_headers() -> None:
    assert time_column(["Email", "Submission Date"], parse_columns([])) == "Submission Date"
    assert time_column(["Email", "created_at"], parse_columns([])) == "created_at"
    assert time_column(["Email", "When"], parse_columns(["submitted_at=when"])) == "When"
    assert time_column(["Email"], parse_columns([])) is None


def test_a_row_without_a_time_is_refused_unless_a_default_is_given() -> None:
    row = Row(2, {"Email": "a@example.com"})
    with pytest.raises(RowError, match="no submission time"):
        RowMapper(route(), NOW).signup(row)
    default = datetime(2025, 5, 1, tzinfo=UTC)
    signup = RowMapper(route(), NOW, default_submitted_at=default).signup(row)
    assert (signup.email, signup.submitted_at, signup.consent) == ("a@example.com", default, Consent.IMPLICIT)


def test_the_checkpoint_resumes_only_the_same_content_and_route(tmp_path: Path) -> None:
    # Given a checkpoint with one applied and one rejected row
    path = tmp_path / "e.csv.checkpoint.json"
    Checkpoint.open(path, input_sha256="abc", route="past").record({2: Done("created"), 3: Done("rejected", "no list")})
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place
    # When it is opened again for the same file and route
    resumed = Checkpoint.open(path, input_sha256="abc", route="past")
    # Then it has both rows, and refuses another content or route unless restarted
    assert resumed.done == {2: Done("created"), 3: Done("rejected", "no list")}
    with pytest.raises(ConfigError, match="the input file changed"):
        Checkpoint.open(path, input_sha256="def", route="past")
    with pytest.raises(ConfigError, match="route 'past'"):
        Checkpoint.open(path, input_sha256="abc", route="other")
    assert Checkpoint.open(path, input_sha256="def", route="past", restart=True).done == {}
    path.write_text("{half")
    with pytest.raises(ConfigError, match="unreadable"):
        Checkpoint.open(path, input_sha256="abc", route="past")


def test_columns_are_checked_against_the_route_before_any_row() -> None:
    # Given headers an export tool writes, the usual labels find the email without a flag
    assert check_columns(route(), ["Email Address", "First Name", "Submitted At"]) == []
    # And a route naming a column the file lacks gets a note for that field
    notes = check_columns(route(fields={"phone": "Mobile"}, custom_fields={"Topic": "Interest"}), ["Email"])
    assert notes == [
        "fields.phone names 'Mobile', which no column matches: it stays empty (--column to map it)",
        "custom field 'Interest' names 'Topic', which no column matches: it stays empty (--column to map it)",
    ]
    # And a file without any email column is refused with the columns it has
    with pytest.raises(ConfigError, match=r"no column holds the email: pass --column email=COLUMN \(columns: A, B\)"):
        check_columns(route(), ["A", "B"])
    with pytest.raises(ConfigError, match=r"fields.email \('sdk_email'\) names no column"):
        check_columns(route(fields={"email": "sdk_email"}), ["Email"])
