"""`backfill` end to end: export files through the CLI into the Constant Contact sandbox over HTTP.

Each test asserts what the sandbox stored and what the checkpoint, summary and failed-rows files say.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from local.cc_sandbox import Sandbox
from signup_relay.models import Signup
from signup_relay.ops.backfill import cli

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
ROUTES = """\
version: 1
routes:
  past-signups:
    source: generic
    secret: {key: past-signups}
    consent: implicit
    lists: [News]
    consent_custom_fields: {at: Consent At, source: Consent Source}
  unbounce-past:
    source: unbounce
    secret: {key: unbounce-past}
    consent: implicit
    lists: [News]
  v2-past:
    source: generic
    secret: {key: v2-past}
    consent: implicit
    lists: [News]
    api: v2
  typeform-past:
    source: typeform
    secret: {key: typeform-past}
    consent: {field: sdk_legal, otherwise: implicit}
    lists: [News]
"""
HEADER = ["Email Address", "Given Name", "Surname", "Submitted At", "Newsletter OK"]
COLUMNS = [
    "--column",
    "email=Email Address",
    "--column",
    "first_name=Given Name",
    "--column",
    "last_name=Surname",
    "--column",
    "consent=Newsletter OK",
]


@pytest.fixture
def cc(cc_sandbox_unthrottled: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The sandbox with a News list, reached the way `make dev` prints it: CC_API_BASE_URL + CC_ACCESS_TOKEN."""
    sandbox = cc_sandbox_unthrottled
    sandbox.seed_list("News")
    sandbox.seed_custom_field("Consent At")
    sandbox.seed_custom_field("Consent Source")
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    monkeypatch.setenv("ROUTES_FILE", str(routes))
    monkeypatch.setenv("CC_API_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("CC_ACCESS_TOKEN", sandbox.issue_tokens()["access_token"])
    monkeypatch.setenv("CC_RATE_LIMIT_PER_SECOND", "0")
    yield sandbox


def write_csv(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def backfill(*argv: str) -> int:
    return cli.main([*argv, "--no-progress"])


def stored(sandbox: Sandbox, email: str) -> dict[str, Any]:
    contact = sandbox.contact_by_email(email)
    assert contact is not None, f"the sandbox holds no contact for {email}"
    return contact


def permission(sandbox: Sandbox, email: str) -> str:
    return str(stored(sandbox, email)["email_address"]["permission_to_send"])


def evidence(sandbox: Sandbox, contact: dict[str, Any]) -> dict[str, str]:
    """The contact's custom fields by label."""
    fields = sandbox.store.custom_fields
    return {fields[f["custom_field_id"]].label: f["value"] for f in contact.get("custom_fields", [])}


def summary_of(export: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(export.with_name(export.name + ".summary.json").read_text())
    return data


def emails_looked_up(sandbox: Sandbox) -> list[str]:
    """The addresses the per-contact path looked up (GET /contacts?email=...), from the sandbox's request log."""
    return [email for entry in sandbox.request_log for email in parse_qs(entry["query"]).get("email", [])]


@pytest.mark.parametrize("mode", ["bulk", "per-contact"])
def test_a_csv_with_mapped_columns_lands_with_its_consent(cc: Sandbox, tmp_path: Path, mode: str) -> None:
    # Given an export whose columns the route does not name, and one opted-in row
    export = write_csv(
        tmp_path / "past.csv",
        [
            ["ada@example.com", "Ada", "Lovelace", "2024-03-01T10:00:00Z", "yes"],
            ["bob@example.com", "Bob", "Stone", "03/02/2024 09:30", ""],
        ],
    )
    # When it is backfilled with --column flags
    status = backfill(str(export), "--route", "past-signups", "--mode", mode, *COLUMNS)
    # Then both contacts are stored with their names, in the route's list, with the consent each row gave
    assert status == 0
    ada, bob = stored(cc, "ada@example.com"), stored(cc, "bob@example.com")
    assert (ada["first_name"], ada["last_name"], bob["first_name"]) == ("Ada", "Lovelace", "Bob")
    assert permission(cc, "ada@example.com") == "explicit"
    assert permission(cc, "bob@example.com") == "implicit"
    # And the consent evidence is the row's real submission time, marked as backfilled
    assert evidence(cc, ada) == {"Consent At": "2024-03-01T10:00:00+00:00", "Consent Source": "generic (backfill)"}
    assert evidence(cc, bob)["Consent At"] == "2024-03-02T09:30:00+00:00"
    news = cc.list_id("News")
    assert ada["list_memberships"] == [news] and bob["list_memberships"] == [news]
    # And bulk mode imported the implicit row (the explicit one went per contact); per-contact mode imported none
    imports = [e for e in cc.request_log if e["path"].endswith("/activities/contacts_json_import")]
    assert len(imports) == (1 if mode == "bulk" else 0)
    assert ("bob@example.com" in emails_looked_up(cc)) is (mode == "per-contact")
    assert "ada@example.com" in emails_looked_up(cc)
    # And the summary counts both as created, with nothing to fix
    summary = summary_of(export)
    assert summary["counts"] == {"created": 2}
    assert summary["failures"] == [] and summary["failed_file"] is None
    assert not (tmp_path / "past.failed.csv").exists()


def test_bad_rows_are_reported_by_row_number_and_kept_to_fix(cc: Sandbox, tmp_path: Path) -> None:
    # Given an export with a good row, a bad address, a row without a time, a bad time and a short row
    export = write_csv(
        tmp_path / "mixed.csv",
        [
            ["good@example.com", "Gus", "", "2024-01-05", ""],
            ["not-an-address", "Nia", "", "2024-01-05", ""],
            ["notime@example.com", "Tim", "", "", ""],
            ["badtime@example.com", "Bea", "", "yesterday", ""],
            ["short@example.com"],
        ],
    )
    # When it is backfilled
    status = backfill(str(export), "--route", "past-signups", *COLUMNS)
    # Then the good row is stored and the run says rows need a fix
    assert status == 1
    assert stored(cc, "good@example.com")["first_name"] == "Gus"
    for email in ("notime@example.com", "badtime@example.com", "short@example.com"):
        assert cc.contact_by_email(email) is None
    # And every bad row is in the summary with its row number (the header is row 1) and reason
    summary = summary_of(export)
    assert summary["counts"] == {"created": 1, "bad_row": 4}
    reasons = {f["row"]: f["reason"] for f in summary["failures"]}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "email" in reasons[3]
    assert "no submission time" in reasons[4]
    assert "'yesterday' is not a date" in reasons[5]
    assert "1 cells; the header has 5 columns" in reasons[6]
    # And the failed-rows file holds exactly those rows, with a reason column, ready to fix and run again
    with (tmp_path / "mixed.failed.csv").open(newline="") as file:
        failed = list(csv.DictReader(file))
    assert [row["Given Name"] for row in failed] == ["Nia", "Tim", "Bea", ""]
    assert all(row["backfill_error"] for row in failed)


def test_a_failed_rows_file_the_user_edited_is_never_overwritten(cc: Sandbox, tmp_path: Path) -> None:
    # Given a run that left a failed-rows file, which the user then edits
    export = write_csv(tmp_path / "e.csv", [["not-an-address", "Nia", "", "2024-01-05", ""]])
    assert backfill(str(export), "--route", "past-signups", *COLUMNS) == 1
    failed = tmp_path / "e.failed.csv"
    failed.write_text(failed.read_text().replace("not-an-address", "nia@example.com"))
    edited = failed.read_text()
    # When the original runs again
    assert backfill(str(export), "--route", "past-signups", *COLUMNS) == 1
    # Then the edited file is kept and the rows to fix go beside it
    assert failed.read_text() == edited
    assert "not-an-address" in (tmp_path / "e.failed-2.csv").read_text()
    assert summary_of(export)["failed_file"] == str(tmp_path / "e.failed-2.csv")
    assert backfill(str(export), "--route", "past-signups", *COLUMNS) == 1  # and again: the same file, rewritten
    assert sorted(p.name for p in tmp_path.glob("e.failed*")) == ["e.failed-2.csv", "e.failed.csv"]
    # And the edited file, given back to backfill, applies the fixed row
    assert backfill(str(failed), "--route", "past-signups", *COLUMNS) == 0
    assert stored(cc, "nia@example.com")["first_name"] == "Nia"


def test_jsonl_of_real_typeform_deliveries_is_parsed_by_the_source(cc: Sandbox, tmp_path: Path) -> None:
    # Given two real Typeform deliveries (consent ticked, then not) and a broken line
    lines = [
        json.dumps(json.loads((REAL / "typeform" / name).read_text()))
        for name in ("sdk-use-all-field-types.json", "sdk-use-other-choices.json")
    ]
    export = tmp_path / "typeform.jsonl"
    export.write_text(lines[0] + "\n\n" + lines[1] + "\n{not json\n")
    # When they are backfilled with the Typeform route (no signature: the operator's own export)
    status = backfill(str(export), "--route", "typeform-past")
    # Then the person is stored, in the list, explicit (the later implicit sign-up does not lower it)
    assert status == 1
    contact = stored(cc, "johndoe@example.com")
    assert contact["list_memberships"] == [cc.list_id("News")]
    assert permission(cc, "johndoe@example.com") == "explicit"
    # And the broken line is reported by its line number (blank lines count), the file keeps it as it was
    summary = summary_of(export)
    assert [(f["row"], f["outcome"]) for f in summary["failures"]] == [(4, "bad_row")]
    assert summary["counts"]["bad_row"] == 1 and summary["applied_now"] == 2
    assert (tmp_path / "typeform.failed.jsonl").read_text() == "{not json\n"


def test_jsonl_string_lines_carry_form_encoded_deliveries(cc: Sandbox, tmp_path: Path) -> None:
    # Given a real Unbounce delivery (form-encoded, no submission date) as a JSON string line
    body = (REAL / "unbounce" / "test-webhook-email.urlencoded").read_text().strip()
    export = tmp_path / "unbounce.jsonl"
    export.write_text(json.dumps(body) + "\n")
    # When it is backfilled without a time, then with --submitted-at
    assert backfill(str(export), "--route", "unbounce-past") == 1
    assert summary_of(export)["failures"][0]["reason"].startswith("no submission time")
    status = backfill(str(export), "--route", "unbounce-past", "--submitted-at", "2017-11-15T16:17:00Z")
    # Then the source's parser read it and the contact is stored in the list
    assert status == 0
    assert stored(cc, "test@snowplowanalytics.com")["list_memberships"] == [cc.list_id("News")]
    assert not (tmp_path / "unbounce.failed.jsonl").exists()


def test_an_unsubscribed_contact_is_not_opted_back_in(cc: Sandbox, tmp_path: Path) -> None:
    # Given a contact who unsubscribed (now), after an old opted-in submission
    contact_id = cc.seed_contact("gone@example.com", permission_to_send="unsubscribed")
    export = write_csv(tmp_path / "old.csv", [["gone@example.com", "Gia", "", "2023-06-01T08:00:00Z", "yes"]])
    # When the old submission is backfilled (bulk mode, the default)
    status = backfill(str(export), "--route", "past-signups", *COLUMNS)
    # Then the contact stays unsubscribed and off the list
    assert status == 0
    contact = stored(cc, "gone@example.com")
    assert contact["contact_id"] == contact_id
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert contact["list_memberships"] == []
    assert summary_of(export)["counts"] == {"kept_unsubscribed": 1}


def test_dry_run_calls_nothing_and_shows_masked_contacts(
    cc: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an export
    export = write_csv(
        tmp_path / "dry.csv",
        [
            ["ada@example.com", "Ada", "", "2024-03-01", "yes"],
            ["bob@example.com", "Bob", "", "2024-03-02", ""],
        ],
    )
    cc.clear_request_log()
    # When it is backfilled with --dry-run
    status = backfill(str(export), "--route", "past-signups", "--dry-run", *COLUMNS)
    # Then Constant Contact got no request at all and nothing was stored or checkpointed
    assert status == 0
    assert cc.request_log == []
    assert cc.contact_by_email("ada@example.com") is None
    assert not (tmp_path / "dry.csv.checkpoint.json").exists()
    # And the output shows each contact masked, the path it would take and the calls
    out = capsys.readouterr().out
    assert "ada@example.com" not in out and "a***@example.com" in out
    assert "Ada" not in out and "fields=first_name" in out  # which fields are set, never their values
    assert "row 2: a***@example.com" in out and "-> per contact: explicit consent" in out
    assert "row 3: b***@example.com" in out and "-> import" in out
    assert "contacts_json_import" in out


class Interrupting:
    """A real applier factory whose applier is interrupted (Ctrl-C) when the batch numbered `at` starts."""

    def __init__(self, real: Any, at: int) -> None:
        self.real = real
        self.at = at
        self.batches = 0

    def __call__(self, client: Any, names: Any) -> Any:
        apply = self.real(client, names)

        def interrupted(signups: Sequence[Signup]) -> Any:
            self.batches += 1
            if self.batches == self.at:
                raise KeyboardInterrupt
            return apply(signups)

        return interrupted


@pytest.mark.parametrize("mode", ["per-contact", "bulk"])
def test_an_interrupted_run_resumes_without_applying_a_row_twice(
    cc: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Given five rows in batches of two, and a first run interrupted when the second batch starts
    emails = [f"p{i}@example.com" for i in range(5)]
    export = write_csv(tmp_path / "big.csv", [[e, f"P{i}", "", f"2024-02-0{i + 1}", ""] for i, e in enumerate(emails)])
    factory = "bulk_applier" if mode == "bulk" else "per_contact_applier"
    real = getattr(cli, factory)
    command = [str(export), "--route", "past-signups", "--mode", mode, "--batch-size", "2", *COLUMNS]
    monkeypatch.setattr(cli, factory, Interrupting(real, at=2))
    assert backfill(*command) == 130
    checkpoint = json.loads((tmp_path / "big.csv.checkpoint.json").read_text())
    assert sorted(checkpoint["rows"]) == ["2", "3"]
    assert [cc.contact_by_email(e) is not None for e in emails] == [True, True, False, False, False]
    first_writes = [stored(cc, e)["updated_at"] for e in emails[:2]]
    # When the same command runs again
    monkeypatch.setattr(cli, factory, real)
    cc.clear_request_log()
    assert backfill(*command) == 0
    # Then the rows applied before were not written again, and all five contacts are stored
    assert [stored(cc, e)["updated_at"] for e in emails[:2]] == first_writes
    assert all(cc.contact_by_email(e) is not None for e in emails)
    if mode == "per-contact":  # only the three rows not applied yet were even looked up
        assert sorted(set(emails_looked_up(cc))) == emails[2:]
    summary = summary_of(export)
    assert (summary["applied_now"], summary["already_applied"], summary["counts"]) == (3, 2, {"created": 5})


def test_an_unknown_route_is_refused_naming_the_routes(
    cc: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_csv(tmp_path / "x.csv", [["ada@example.com", "Ada", "", "2024-03-01", ""]])
    assert backfill(str(export), "--route", "nope") == 2
    assert (
        "no route 'nope' in the routes file (its routes: past-signups, unbounce-past, v2-past, typeform-past)"
        in capsys.readouterr().err
    )
    assert cc.request_log == []


def test_ctrl_c_in_the_middle_of_a_batch_records_the_rows_already_applied(
    cc: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signup_relay.ops.backfill import apply as backfill_apply

    # Given five rows in one per-contact batch, and Ctrl-C while the third is being applied
    emails = [f"c{i}@example.com" for i in range(5)]
    export = write_csv(tmp_path / "c.csv", [[e, "C", "", "2024-02-01", ""] for e in emails])
    real, calls = backfill_apply.upsert_contact, []

    def interrupted_on_the_third(signup: Signup, **kwargs: Any) -> Any:
        calls.append(signup.email)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(signup, **kwargs)

    monkeypatch.setattr(backfill_apply, "upsert_contact", interrupted_on_the_third)
    command = [str(export), "--route", "past-signups", "--mode", "per-contact"]
    # When the run is interrupted
    assert backfill(*command, *COLUMNS) == 130
    # Then the two rows applied are in the checkpoint and the summary says how to resume
    assert sorted(json.loads((tmp_path / "c.csv.checkpoint.json").read_text())["rows"]) == ["2", "3"]
    assert summary_of(export)["stopped"].startswith("interrupted")
    # And the same command, run again, applies only the other three
    monkeypatch.setattr(backfill_apply, "upsert_contact", real)
    cc.clear_request_log()
    assert backfill(*command, *COLUMNS) == 0
    assert sorted(set(emails_looked_up(cc))) == emails[2:]
    assert all(cc.contact_by_email(e) is not None for e in emails)


@pytest.mark.parametrize("mode", ["per-contact", "bulk"])
def test_a_spent_daily_quota_stops_the_run_and_a_rerun_finishes_it(cc: Sandbox, tmp_path: Path, mode: str) -> None:
    # Given an account with 5 calls left today, and six rows in batches of two
    emails = [f"q{i}@example.com" for i in range(6)]
    export = write_csv(
        tmp_path / "q.csv", [[e, "Q", "", "2024-02-01", "yes" if i % 2 else ""] for i, e in enumerate(emails)]
    )
    command = [str(export), "--route", "past-signups", "--mode", mode, "--batch-size", "2", *COLUMNS]
    cc.daily_quota = cc.quota_used() + 5
    # When the backfill runs
    status = backfill(*command)
    # Then it stops at the quota, saying when to resume, and records only what it applied
    assert status == 1
    summary = summary_of(export)
    assert "00:00 UTC" in summary["stopped"]
    applied = [e for e in emails if cc.contact_by_email(e) is not None]
    assert summary["counts"]["not_applied"] == len(emails) - len(applied) > 0
    checkpoint = json.loads((tmp_path / "q.csv.checkpoint.json").read_text()) if applied else {"rows": {}}
    assert len(checkpoint["rows"]) == summary["applied_now"] == len(applied)
    # When the quota resets and the same command runs again
    cc.daily_quota = 10_000
    assert backfill(*command) == 0
    # Then every contact is stored, each with the consent of its row
    assert [permission(cc, e) for e in emails] == ["implicit", "explicit"] * 3
    assert summary_of(export)["counts"] == {"created": 6}


def test_a_v2_route_is_refused_before_any_call(cc: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = write_csv(tmp_path / "v2.csv", [["ada@example.com", "Ada", "", "2024-03-01", ""]])
    assert backfill(str(export), "--route", "v2-past") == 2
    assert "writes through the V2 API (api: v2); backfill writes through V3 only" in capsys.readouterr().err
    assert cc.request_log == [] and not (tmp_path / "v2.csv.checkpoint.json").exists()


def test_a_changed_input_is_not_resumed(cc: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given an export already backfilled
    export = write_csv(tmp_path / "once.csv", [["ada@example.com", "Ada", "", "2024-03-01", ""]])
    assert backfill(str(export), "--route", "past-signups", *COLUMNS) == 0
    # When the file changes and the same command runs again
    write_csv(export, [["zed@example.com", "Zed", "", "2024-03-01", ""]])
    status = backfill(str(export), "--route", "past-signups", *COLUMNS)
    # Then it refuses, saying why, and applies nothing
    assert status == 2
    assert "the input file changed" in capsys.readouterr().err
    assert cc.contact_by_email("zed@example.com") is None


def test_a_deployed_account_is_reached_through_its_secret(
    cc: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto import mock_aws

    from tests.oauth_secret import seed_oauth_secret

    # Given the account secret in Secrets Manager (as `make connect` writes it) and no token in the environment
    monkeypatch.delenv("CC_ACCESS_TOKEN")
    export = write_csv(tmp_path / "deployed.csv", [["ada@example.com", "Ada", "", "2024-03-01", "yes"]])
    with mock_aws():
        seed_oauth_secret(cc, "signup-relay/constant-contact")
        # When the backfill runs with a region (and none in the environment)
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        status = backfill(str(export), "--route", "past-signups", "--region", "us-east-1", *COLUMNS)
    # Then it said where it writes, read the token from the secret and stored the contact
    assert status == 0
    assert f"Constant Contact: {cc.base_url}, with the account secret signup-relay/constant-contact in us-east-1" in (
        capsys.readouterr().out
    )
    assert permission(cc, "ada@example.com") == "explicit"


def test_a_refused_token_stops_the_run_and_leaves_rows_for_a_rerun(
    cc: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a token Constant Contact refuses
    monkeypatch.setenv("CC_ACCESS_TOKEN", "not-a-token")
    export = write_csv(tmp_path / "refused.csv", [[f"r{i}@example.com", "R", "", "2024-03-01", ""] for i in range(3)])
    # When the backfill runs per contact
    status = backfill(str(export), "--route", "past-signups", "--mode", "per-contact", *COLUMNS)
    # Then it stops at the first row, records nothing, and says why
    assert status == 1
    summary = summary_of(export)
    assert summary["counts"] == {"not_applied": 3} and summary["applied_now"] == 0
    assert "CC_ACCESS_TOKEN" in summary["stopped"]
    assert not (tmp_path / "refused.csv.checkpoint.json").exists()
    assert cc.contact_by_email("r0@example.com") is None
