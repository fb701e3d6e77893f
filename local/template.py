"""Read template.yaml the way the local stack needs it: HTTP routes, queue attributes, parameter defaults.

The local stack and the tests build their moto resources from the template itself, so they cannot drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation short tags (!Ref, !Sub, !GetAtt ...) read as their long forms."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _short_tag)


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class HttpRoute:
    """One HttpApi event of a function: `POST /hooks/{route}` -> functions.receive.app.lambda_handler."""

    method: str
    path: str
    function: str  # logical id
    module: str
    handler: str
    timeout_seconds: int = 20

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when `method path` is this route, else None."""
        if method.upper() != self.method and self.method != "ANY":
            return None
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def _resources_of(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, Properties) of every resource of one type in the template."""
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == resource_type:
            yield logical_id, resource["Properties"]


def _handler_of(properties: dict[str, Any], template: dict[str, Any]) -> tuple[str, str, int]:
    """A function's handler module and name and its Timeout: CodeUri functions/receive/ + Handler
    app.lambda_handler -> (functions.receive.app, lambda_handler, 10)."""
    module_file, handler = properties["Handler"].rsplit(".", 1)
    timeout = properties.get("Timeout", template.get("Globals", {}).get("Function", {}).get("Timeout", 3))
    return f"{properties['CodeUri'].strip('/').replace('/', '.')}.{module_file}", handler, int(timeout)


def http_routes(template: dict[str, Any] | None = None) -> list[HttpRoute]:
    """Every HttpApi event in the template, with the handler module it invokes."""
    template = template or load_template()
    routes = []
    for logical_id, properties in _resources_of(template, "AWS::Serverless::Function"):
        for event in properties.get("Events", {}).values():
            if event.get("Type") != "HttpApi":
                continue
            module, handler, timeout = _handler_of(properties, template)
            routes.append(
                HttpRoute(
                    method=event["Properties"]["Method"].upper(),
                    path=event["Properties"]["Path"],
                    function=logical_id,
                    module=module,
                    handler=handler,
                    timeout_seconds=timeout,
                )
            )
    return routes


def parameter_defaults(template: dict[str, Any] | None = None) -> dict[str, str]:
    template = template or load_template()
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def function_environment(logical_id: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """Globals + the function's own Environment.Variables (values may still be CloudFormation expressions)."""
    template = template or load_template()
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    variables.update(own)
    return variables


def resolve(value: Any, parameters: dict[str, str], refs: dict[str, str] | None = None) -> str | None:
    """A literal, a parameter !Ref, or a !Ref to a resource named in `refs`; None for anything else."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return parameters.get(name, (refs or {}).get(name))
    return None


def sqs_attributes(logical_id: str, parameters: dict[str, str], arns: dict[str, str]) -> dict[str, str]:
    """CreateQueue attributes for an AWS::SQS::Queue of the template (RedrivePolicy targets looked up in `arns`)."""
    properties = load_template()["Resources"][logical_id]["Properties"]
    attributes: dict[str, str] = {}
    for key in (
        "FifoQueue",
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "FifoThroughputLimit",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
    ):
        if key in properties:
            value = properties[key]
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if redrive := properties.get("RedrivePolicy"):
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": arns[target],
                "maxReceiveCount": int(resolve(redrive["maxReceiveCount"], parameters) or 5),
            }
        )
    return attributes


def dynamodb_table(logical_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """CreateTable arguments (key schema, attributes, billing mode) of an AWS::DynamoDB::Table of the template, and
    its TimeToLiveSpecification (None when it has none)."""
    properties = load_template()["Resources"][logical_id]["Properties"]
    table = {key: properties[key] for key in ("AttributeDefinitions", "KeySchema", "BillingMode") if key in properties}
    return table, properties.get("TimeToLiveSpecification")


def queue_name(logical_id: str, stack_name: str) -> str:
    """The QueueName `!Sub ${AWS::StackName}-...` of a queue, for a given stack name."""
    name = load_template()["Resources"][logical_id]["Properties"]["QueueName"]
    return str(name["Fn::Sub"]).replace("${AWS::StackName}", stack_name)


@dataclass(frozen=True)
class QueueConsumer:
    """One SQS trigger of a function (an AWS::Lambda::EventSourceMapping): the queue and the handler it invokes."""

    queue: str
    function: str
    module: str
    handler: str
    batch_size: int
    logical_id: str = ""  # the mapping's own logical id
    timeout_seconds: int = 20


def sqs_consumers(template: dict[str, Any] | None = None) -> list[QueueConsumer]:
    template = template or load_template()
    resources = template["Resources"]
    consumers = []
    for logical_id, mapping in _resources_of(template, "AWS::Lambda::EventSourceMapping"):
        function = mapping["FunctionName"]["Ref"]
        properties = resources[function]["Properties"]
        module, handler, timeout = _handler_of(properties, template)
        consumers.append(
            QueueConsumer(
                queue=mapping["EventSourceArn"]["Fn::GetAtt"][0],
                function=function,
                module=module,
                handler=handler,
                batch_size=int(mapping.get("BatchSize", 10)),
                logical_id=logical_id,
                timeout_seconds=timeout,
            )
        )
    return consumers


@dataclass(frozen=True)
class ScheduledFunction:
    """A function run by an EventBridge Scheduler schedule (a ScheduleV2 event), with its Timeout."""

    function: str
    module: str
    handler: str
    timeout_seconds: int


def scheduled_functions(template: dict[str, Any] | None = None) -> list[ScheduledFunction]:
    """Every function with a ScheduleV2 event (the burst drain's backlog check)."""
    template = template or load_template()
    found = []
    for logical_id, properties in _resources_of(template, "AWS::Serverless::Function"):
        if not any(event.get("Type") == "ScheduleV2" for event in properties.get("Events", {}).values()):
            continue
        module, handler, timeout = _handler_of(properties, template)
        found.append(ScheduledFunction(logical_id, module, handler, timeout))
    return found


UPDATE_MAPPING_TARGET = "arn:aws:scheduler:::aws-sdk:lambda:updateEventSourceMapping"
_DAILY_CRON = re.compile(r"cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)")


@dataclass(frozen=True)
class MappingSchedule:
    """An AWS::Scheduler::Schedule calling lambda:updateEventSourceMapping daily (the quota breaker's re-enable)."""

    logical_id: str
    mapping: str  # logical id of the AWS::Lambda::EventSourceMapping its Input names
    enabled: bool
    hour: int  # UTC
    minute: int

    def next_run(self, after: datetime) -> datetime:
        """The first run strictly after `after` (an aware datetime)."""
        run = after.astimezone(UTC).replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return run if run > after else run + timedelta(days=1)


def mapping_schedules(template: dict[str, Any] | None = None) -> list[MappingSchedule]:
    """Every daily schedule of the template whose universal target updates an event source mapping.

    Only the form the stack uses is read (`cron(M H * * ? *)` in UTC, Input `{"UUID": "${Mapping}", "Enabled": ...}`);
    anything else is a ValueError, so the local stack never silently runs a different schedule.
    """
    template = template or load_template()
    schedules = []
    for logical_id, properties in _resources_of(template, "AWS::Scheduler::Schedule"):
        target = properties["Target"]
        if target["Arn"] != UPDATE_MAPPING_TARGET:
            continue
        found = _DAILY_CRON.fullmatch(properties["ScheduleExpression"])
        if not found or properties.get("ScheduleExpressionTimezone", "UTC") != "UTC":
            raise ValueError(f"{logical_id}: only a daily cron(M H * * ? *) in UTC is supported locally")
        raw = target["Input"]["Fn::Sub"] if isinstance(target["Input"], dict) else target["Input"]
        refs = re.findall(r"\$\{(\w+)\}", raw)
        data = json.loads(re.sub(r"\$\{(\w+)\}", r"\1", raw))
        if len(refs) != 1 or data.get("UUID") != refs[0]:
            raise ValueError(f"{logical_id}: the Input must name one mapping as UUID")
        schedules.append(
            MappingSchedule(
                logical_id=logical_id,
                mapping=refs[0],
                enabled=bool(data["Enabled"]),
                hour=int(found.group(2)),
                minute=int(found.group(1)),
            )
        )
    return schedules
