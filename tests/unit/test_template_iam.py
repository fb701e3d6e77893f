"""template.yaml: the upsert function may consume its own queue only (no account-wide managed SQS policy)."""

from __future__ import annotations

from typing import Any

from local.template import load_template

FUNCTIONS = ("ReceiveFunction", "UpsertFunction", "TokenRefreshFunction")


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


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)
