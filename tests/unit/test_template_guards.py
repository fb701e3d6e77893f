"""template.yaml: least-privilege SQS for upsert (no account-wide managed policy), and the alarms it ships."""

from __future__ import annotations

from typing import Any

from local.template import load_template

FUNCTIONS = ("ReceiveFunction", "UpsertFunction", "TokenRefreshFunction", "BulkDrainFunction")


def _statements(function: str) -> list[dict[str, Any]]:
    policies = load_template()["Resources"][function]["Properties"].get("Policies", [])
    return [statement for policy in policies if isinstance(policy, dict) for statement in policy.get("Statement", [])]


def test_no_function_uses_a_sam_sqs_event():
    # SAM's SQS event attaches AWSLambdaSQSQueueExecutionRole: receive and delete on every queue in the account
    for function in FUNCTIONS:
        events = load_template()["Resources"][function]["Properties"].get("Events", {})
        assert all(event["Type"] != "SQS" for event in events.values()), function


def test_upsert_consumes_exactly_the_signup_queue():
    # Given the upsert function's own statements
    sqs = [s for s in _statements("UpsertFunction") if any(str(a).startswith("sqs:") for a in _actions(s))]
    # Then receiving and deleting are granted on the sign-up queue only, never on "*" or the DLQ
    consuming = [s for s in sqs if {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & set(_actions(s))]
    assert [s["Resource"] for s in consuming] == [{"Fn::GetAtt": ["SignupQueue", "Arn"]}]
    assert all(s["Resource"] != "*" for s in sqs)
    # And the trigger is an event source mapping of that queue to that function
    mapping = load_template()["Resources"]["UpsertEventSourceMapping"]["Properties"]
    assert (mapping["EventSourceArn"], mapping["FunctionName"]) == (
        {"Fn::GetAtt": ["SignupQueue", "Arn"]},
        {"Ref": "UpsertFunction"},
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_queues_consumers_may_send_a_quota_deferred_message_again():
    # A message deferred by the quota on its last delivery is sent again as a new message of its group
    # (upsert/attempt.py, bulk/drain.py): without SendMessage on the sign-up queue the redrive dead-letters it.
    for function in ("UpsertFunction", "BulkDrainFunction"):
        sending = [s for s in _statements(function) if "sqs:SendMessage" in _actions(s)]
        assert [s["Resource"] for s in sending] == [{"Fn::GetAtt": ["SignupQueue", "Arn"]}], function


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def test_alarms_watch_receive_errors_and_the_age_of_queued_signups():
    resources = load_template()["Resources"]
    age = resources["QueuedSignupAgeAlarm"]["Properties"]
    errors = resources["ReceiveServerErrorsAlarm"]["Properties"]
    # the oldest message of the sign-up queue, against the parameter
    assert (age["Namespace"], age["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SignupQueue", "QueueName"]}}]
    assert age["Threshold"] == {"Ref": "QueuedSignupAgeAlarmSeconds"}
    # any 5xx of this stack's HTTP API
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/ApiGateway", "5xx", 0)
    assert {"Name": "ApiId", "Value": {"Ref": "SignupApi"}} in errors["Dimensions"]
