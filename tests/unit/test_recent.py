"""`make recent`: the saved query in the template, the answer parsing, and the CLI against moto."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from local.template import load_template
from signup_relay.aws import dead_letter_reader
from signup_relay.errors import ConfigError
from signup_relay.ops import recent
from tests.cloudformation_stub import stubbed_stack

# Shaped exactly like a GetQueryResults answer: rows of {"field", "value"}, values as strings, a field a record
# lacks absent from its row, and Insights' own @ptr
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html).
INSIGHTS_ANSWER = {
    "results": [
        [
            {"field": "@timestamp", "value": "2026-11-27 18:02:11.412"},
            {"field": "outcome", "value": "created"},
            {"field": "route", "value": "typeform-newsletter"},
            {"field": "email", "value": "j***@example.com"},
            {"field": "queued_id", "value": "typeform-newsletter:e1f2"},
            {"field": "@ptr", "value": "CmAKJgoiMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRhL3JlY2VpdmUQABI1GhgCBl0..."},
        ],
        [
            {"field": "@timestamp", "value": "2026-11-27 18:01:40.007"},
            {"field": "status", "value": "422"},
            {"field": "path", "value": "/hooks/jotform-contact?token"},
            {"field": "reason", "value": "the submission has no usable email or invalid fields"},
            {"field": "error_class", "value": "invalid_submission"},
            {"field": "@ptr", "value": "CmAKJgoiMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRhL3JlY2VpdmUQABI1GhgCBl1..."},
        ],
        [
            {"field": "@timestamp", "value": "2026-11-27 17:59:03.250"},
            {"field": "outcome", "value": "rejected"},
            {"field": "route", "value": "generic-existing-lists"},
            {"field": "email", "value": "g***@example.org"},
            {"field": "reason", "value": "list 'VIP' does not exist in the account"},
            {"field": "error_class", "value": "rejected"},
            {"field": "@ptr", "value": "CmAKJgoiMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRhL3Vwc2VydBAAEjUaGAIGXQ..."},
        ],
    ],
    "statistics": {"recordsMatched": 3.0, "recordsScanned": 41.0, "bytesScanned": 12034.0},
    "status": "Complete",
}


def test_the_template_saves_the_query_the_cli_runs_over_the_functions_log_groups():
    # Given the template / Then its saved query is exactly the CLI's, over the receive, upsert and drain log groups
    resources = load_template()["Resources"]
    definition = resources["RecentSignupsQuery"]
    assert definition["Type"] == "AWS::Logs::QueryDefinition"
    assert definition["Properties"]["QueryString"] == recent.QUERY
    groups = [ref["Ref"] for ref in definition["Properties"]["LogGroupNames"]]
    assert [resources[g]["Properties"]["LogGroupName"] for g in groups] == [
        {"Fn::Sub": "/aws/lambda/${ReceiveFunction}"},
        {"Fn::Sub": "/aws/lambda/${UpsertFunction}"},
        {"Fn::Sub": "/aws/lambda/${BulkDrainFunction}"},
    ]
    # ... and the Outputs the CLI reads name those same functions
    outputs = load_template()["Outputs"]
    assert [outputs[name]["Value"] for name in (*recent.FUNCTION_OUTPUTS, recent.BURST_OUTPUT)] == [
        {"Ref": "ReceiveFunction"},
        {"Ref": "UpsertFunction"},
        {"Ref": "BulkDrainFunction"},
    ]


def test_an_insights_answer_becomes_a_table_of_outcome_route_masked_email_and_reason():
    # Given a real-shaped answer / When parsed and formatted
    signups = recent.signups_from_results(INSIGHTS_ANSWER["results"])
    table = recent.format_table(signups).splitlines()

    # Then each row has its outcome (a refusal by its status), its route (a refusal's from its path) and reason
    assert [(s.outcome, s.route, s.email, s.reason) for s in signups] == [
        ("created", "typeform-newsletter", "j***@example.com", ""),
        ("refused 422", "jotform-contact", "", "the submission has no usable email or invalid fields"),
        ("rejected", "generic-existing-lists", "g***@example.org", "list 'VIP' does not exist in the account"),
    ]
    assert table[0].split() == ["time", "(UTC)", "outcome", "route", "email", "reason"]
    assert table[1].split() == ["2026-11-27", "18:02:11.412", "created", "typeform-newsletter", "j***@example.com"]
    assert table[2].startswith("2026-11-27 18:01:40.007  refused 422  jotform-contact")
    assert table[3].endswith("g***@example.org  list 'VIP' does not exist in the account")
    assert recent.format_table([]) == "no sign-ups in that window"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), (" 2d ", 172800)])
def test_since_takes_a_number_and_a_unit(text: str, seconds: int):
    assert recent.since_seconds(text) == seconds


@pytest.mark.parametrize("text", ["1", "h", "0h", "1w", "-1h"])
def test_a_bad_since_is_refused_with_an_example(text: str):
    with pytest.raises(ConfigError, match="e.g. 30m, 1h, 2d"):
        recent.since_seconds(text)


class SlowInsights:
    """A query that runs twice before it completes (Insights answers Scheduled/Running first)."""

    def __init__(self) -> None:
        self.polls = 0
        self.started: dict[str, object] = {}

    def start_query(self, **kwargs: object) -> dict[str, str]:
        self.started = kwargs
        return {"queryId": "q-1"}

    def get_query_results(self, queryId: str) -> dict[str, object]:  # noqa: N803 - boto3's name
        self.polls += 1
        return INSIGHTS_ANSWER if self.polls == 3 else {"results": [], "status": "Running"}


def test_the_query_is_polled_until_complete_over_the_window_asked():
    # Given Insights still running on the first two polls / When the CLI's query runs for the last hour
    logs, slept = SlowInsights(), []
    results = recent.run_query(
        logs, ["/aws/lambda/r", "/aws/lambda/u"], since=3600, now=lambda: 1_000_000.0, sleep=slept.append
    )

    # Then it asked for QUERY over that hour, waited between polls, and returned the completed results
    assert logs.started == {
        "logGroupNames": ["/aws/lambda/r", "/aws/lambda/u"],
        "startTime": 1_000_000 - 3600,
        "endTime": 1_000_000,
        "queryString": recent.QUERY,
    }
    assert (logs.polls, slept) == (3, [1.0, 1.0])
    assert results == INSIGHTS_ANSWER["results"]


FUNCTIONS = {
    "ReceiveFunctionName": "signup-relay-ReceiveFunction-AbC",
    "UpsertFunctionName": "signup-relay-UpsertFunction-DeF",
    "BulkDrainFunctionName": "signup-relay-BulkDrainFunction-GhI",
}


@mock_aws
def test_the_cli_finds_the_log_groups_from_the_stack_and_runs_the_query(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Given a stack whose Outputs name the functions, and their log groups (moto) holding a sign-up line
    region = "eu-west-1"
    stubber = stubbed_stack(monkeypatch, "relay-test", FUNCTIONS, region)
    logs = boto3.client("logs", region_name=region)
    for name in FUNCTIONS.values():
        logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
    upsert_group = f"/aws/lambda/{FUNCTIONS['UpsertFunctionName']}"
    logs.create_log_stream(logGroupName=upsert_group, logStreamName="s")
    line = {"level": "INFO", "message": "sign-up upserted", "outcome": "created", "route": "generic"}
    logs.put_log_events(
        logGroupName=upsert_group,
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(line)}],
    )

    # When `make recent STACK=relay-test REGION=eu-west-1 SINCE=2h` runs
    with stubber:
        code = recent.main(["--stack", "relay-test", "--region", region, "--since", "2h"])

    # Then the query ran over both log groups (moto's results carry no fields: the table's content is tested
    # against real-shaped answers above)
    out, err = capsys.readouterr()
    assert code == 0, err
    for group in (f"/aws/lambda/{name}" for name in FUNCTIONS.values()):
        queries = logs.describe_queries(logGroupName=group)["queries"]
        assert [(q["queryString"], q["status"]) for q in queries] == [(recent.QUERY, "Complete")]
    assert out == "no sign-ups in that window\n"


@mock_aws
def test_a_stack_without_the_outputs_or_a_region_gets_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Given a stack deployed from an older template (no function name outputs)
    stubber = stubbed_stack(
        monkeypatch, "relay-test", {"DeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/d"}, "eu-west-1"
    )
    # When make recent runs / Then it says what is missing
    with stubber:
        assert recent.main(["--stack", "relay-test", "--region", "eu-west-1"]) == 2
    assert "no ReceiveFunctionName or UpsertFunctionName output" in capsys.readouterr().err

    # Given no region anywhere / Then it says which to set, and how to see the same thing on the local stack
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert recent.main(["--stack", "relay-test"]) == 2
    err = capsys.readouterr().err
    assert "no AWS region: pass --region (make recent REGION=eu-west-1)" in err
    assert "GET /_local/status" in err


def test_an_unknown_stack_is_named_with_where_to_look_locally(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # Given no stack of that name in the region (a developer on the local stack, say)
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(cloudformation)
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id signup-relay does not exist")
    monkeypatch.setattr(dead_letter_reader, "get_cloudformation_client", lambda region=None: cloudformation)
    # When make recent runs / Then it says so, and where the local stack shows the same thing
    with stubber:
        assert recent.main(["--region", "eu-west-1"]) == 1
    err = capsys.readouterr().err
    assert "Stack with id signup-relay does not exist" in err and "make dev" in err


def test_a_stack_from_before_burst_mode_is_read_from_its_two_log_groups():
    # Given the Outputs of a stack deployed before the bulk drain existed / Then its two log groups are read
    older = {name: FUNCTIONS[name] for name in recent.FUNCTION_OUTPUTS}
    assert recent.log_groups(older) == [f"/aws/lambda/{name}" for name in older.values()]
    assert recent.log_groups(FUNCTIONS)[-1] == f"/aws/lambda/{FUNCTIONS['BulkDrainFunctionName']}"
