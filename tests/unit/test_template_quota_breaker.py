"""template.yaml: the quota breaker's switch (upsert may turn its own trigger off), the schedule that turns it on
after the reset (a universal target with a role that can do nothing else), and the alarm on the trip."""

from __future__ import annotations

import json
import re
from typing import Any

from local.template import UPDATE_MAPPING_TARGET, load_template, mapping_schedules
from signup_relay.aws.quota_breaker import RESET_MARGIN, TRIPPED_METRIC, V2_TRIPPED_METRIC

MAPPING_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:event-source-mapping:"
    "${UpsertEventSourceMapping}"
}


def resources() -> dict[str, Any]:
    return load_template()["Resources"]


def test_the_schedule_switches_the_upsert_trigger_on_just_after_the_reset():
    schedule = resources()["QuotaResetSchedule"]["Properties"]
    # The Scheduler calls Lambda's UpdateEventSourceMapping itself: no code runs
    assert (
        schedule["Target"]["Arn"]
        == UPDATE_MAPPING_TARGET
        == "arn:aws:scheduler:::aws-sdk:lambda:updateEventSourceMapping"
    )
    # ...with the upsert mapping's id and Enabled true
    raw = schedule["Target"]["Input"]["Fn::Sub"]
    assert re.findall(r"\$\{(\w+)\}", raw) == ["UpsertEventSourceMapping"]
    assert json.loads(raw.replace("${UpsertEventSourceMapping}", "uuid")) == {"UUID": "uuid", "Enabled": True}
    assert resources()["UpsertEventSourceMapping"]["Type"] == "AWS::Lambda::EventSourceMapping"
    # ...daily in UTC, at the minute the breaker waits for (00:00 UTC plus its margin), on time
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == ("cron(1 0 * * ? *)", "UTC")
    [local] = mapping_schedules()
    assert (local.hour, local.minute * 60) == (0, RESET_MARGIN.total_seconds())
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["RoleArn"] == {"Fn::GetAtt": ["QuotaResetScheduleRole", "Arn"]}


def test_the_schedules_role_can_only_update_that_mapping_and_only_the_scheduler_assumes_it():
    role = resources()["QuotaResetScheduleRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "scheduler.amazonaws.com"}, "sts:AssumeRole")
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": "lambda:UpdateEventSourceMapping", "Resource": MAPPING_ARN}
    assert "ManagedPolicyArns" not in role


def test_upsert_may_switch_off_only_its_own_trigger():
    policy = resources()["UpsertQuotaBreakerPolicy"]
    assert policy["Type"] == "AWS::IAM::RolePolicy"
    assert policy["Properties"]["RoleName"] == {"Ref": "UpsertFunctionRole"}  # SAM's role of UpsertFunction
    statements = {s["Action"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"lambda:UpdateEventSourceMapping", "lambda:ListEventSourceMappings"}
    assert statements["lambda:UpdateEventSourceMapping"]["Resource"] == MAPPING_ARN
    # Listing has no resource-level permission in IAM; it reveals mapping metadata, never a message
    assert statements["lambda:ListEventSourceMappings"]["Resource"] == "*"


def test_a_trip_raises_an_alarm_wired_like_the_others():
    alarms = {k: r["Properties"] for k, r in resources().items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    alarm = alarms["QuotaBreakerTrippedAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("SignupRelay", TRIPPED_METRIC, 0)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "signup-relay"}]
    assert alarm["AlarmActions"] == alarms["DeadLetterAlarm"]["AlarmActions"]
    assert TRIPPED_METRIC in resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]


def test_a_v2_keys_trip_has_its_own_alarm_and_leaves_the_fleets_alone():
    alarms = {k: r["Properties"] for k, r in resources().items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    alarm = alarms["V2QuotaBreakerTrippedAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("SignupRelay", V2_TRIPPED_METRIC, 0)
    assert alarm["Dimensions"] == alarms["QuotaBreakerTrippedAlarm"]["Dimensions"]
    assert alarm["AlarmActions"] == alarms["DeadLetterAlarm"]["AlarmActions"]
    assert alarms["QuotaBreakerTrippedAlarm"]["MetricName"] == TRIPPED_METRIC != V2_TRIPPED_METRIC
    assert V2_TRIPPED_METRIC in resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]


def test_the_redrive_limit_is_the_attempt_limit_the_breaker_counts_against():
    # The breaker sends a sign-up again on its last delivery (upsert/attempt.py): that is only safe while the queue
    # redrives after exactly MaxReceiveCount receives, the number upsert is given as MAX_RECEIVE_COUNT
    queue = resources()["SignupQueue"]["Properties"]
    upsert = resources()["UpsertFunction"]["Properties"]["Environment"]["Variables"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert upsert["MAX_RECEIVE_COUNT"] == {"Ref": "MaxReceiveCount"}
