"""The stack's AWS resources inside moto, created from template.yaml (queues) and seeded like a deployment.

Call these inside an active `moto.mock_aws()`: the local stack and the integration tests share them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from local.template import (
    ROOT,
    MappingSchedule,
    dynamodb_table,
    function_environment,
    http_routes,
    parameter_defaults,
    queue_name,
    resolve,
    scheduled_functions,
    sqs_attributes,
    sqs_consumers,
)

DEMO_SECRETS = ROOT / "local" / "demo_secrets.json"
ROUTES_FILE = ROOT / "routes.yaml"
# SQS FIFO: a message whose deduplication id was sent in the last 5 minutes is accepted and not delivered
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html)
DEDUPLICATION_INTERVAL = 300.0


@dataclass(frozen=True)
class LocalResources:
    queue_url: str
    dlq_url: str
    parameters: dict[str, str]
    delivery_table: str = ""  # DeliveryIdempotencyTable ("" = not created: receive keeps no delivery log)

    @property
    def cc_secret_id(self) -> str:
        return self.parameters["CcSecretId"]

    @property
    def webhook_secret_id(self) -> str:
        return self.parameters["WebhookSecretId"]

    @property
    def max_receive_count(self) -> int:
        return int(self.parameters["MaxReceiveCount"])


class FifoDeduplication:
    """SQS's deduplication interval on a moto FIFO queue.

    moto drops a duplicate only while the first copy is still on the queue; SQS drops it for 5 minutes after the
    first send, whether or not that copy was received and deleted since. Wraps the moto queue's `add_message`, so
    every sender (SendMessage, SendMessageBatch) is covered; messages moto moves to a DLQ are not sends.
    """

    def __init__(self, queue: Any, *, clock: Callable[[], float], interval: float = DEDUPLICATION_INTERVAL) -> None:
        self._add = queue.add_message
        self._clock = clock
        self._interval = interval
        self._per_group = queue.attributes.get("DeduplicationScope") == "messageGroup"
        self._first_sent: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        queue.add_message = self.add_message

    def add_message(self, message: Any) -> None:
        if message.deduplication_id and not message.approximate_receive_count:  # a send, not a redrive
            key = (message.group_id if self._per_group else "", message.deduplication_id)
            now = self._clock()
            with self._lock:
                self._first_sent = {k: t for k, t in self._first_sent.items() if now - t < self._interval}
                if key in self._first_sent:
                    return  # accepted, never delivered, as SQS does
                self._first_sent[key] = now
        self._add(message)


def moto_sqs_seconds() -> float:
    """moto's SQS clock, in seconds: deduplication and moto's own message timers agree (and move together in tests)."""
    from moto.sqs import models as sqs_models

    return float(sqs_models.unix_time_millis()) / 1000


def _moto_queue(url: str, region: str) -> Any:
    """The moto model behind a queue URL (.../<account>/<name>)."""
    from moto.sqs.models import sqs_backends

    account_id, name = urlsplit(url).path.strip("/").split("/")
    return sqs_backends[account_id][region].get_queue(name)


def create_queues(
    *,
    stack_name: str = "signup-relay",
    visibility_timeout: int | None = None,
    clock: Callable[[], float] = moto_sqs_seconds,
    **overrides: str,
) -> LocalResources:
    """The FIFO queue and its FIFO DLQ with the template's attributes (visibility shortened for local retries),
    deduplicating like SQS (`FifoDeduplication`, on `clock`)."""
    parameters = {**parameter_defaults(), **overrides}
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=queue_name("DeadLetterQueue", stack_name),
        Attributes=sqs_attributes("DeadLetterQueue", parameters, {}),
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = sqs_attributes("SignupQueue", parameters, {"DeadLetterQueue": dlq_arn})
    if visibility_timeout is not None:
        attributes["VisibilityTimeout"] = str(visibility_timeout)
    queue_url = sqs.create_queue(QueueName=queue_name("SignupQueue", stack_name), Attributes=attributes)["QueueUrl"]
    for url in (queue_url, dlq_url):
        FifoDeduplication(_moto_queue(url, sqs.meta.region_name), clock=clock)
    return LocalResources(queue_url=queue_url, dlq_url=dlq_url, parameters=parameters)


def create_delivery_table(*, stack_name: str = "signup-relay") -> str:
    """The DeliveryIdempotencyTable with the template's keys, billing mode and TTL; returns its name."""
    name = f"{stack_name}-DeliveryIdempotencyTable"
    table, ttl = dynamodb_table("DeliveryIdempotencyTable")
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(TableName=name, **table)
    if ttl:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    return name


def create_resources(
    *,
    stack_name: str = "signup-relay",
    visibility_timeout: int | None = None,
    clock: Callable[[], float] = moto_sqs_seconds,
    **overrides: str,
) -> LocalResources:
    """Everything the handlers use: the queues (see create_queues) and the delivery table."""
    resources = create_queues(stack_name=stack_name, visibility_timeout=visibility_timeout, clock=clock, **overrides)
    return replace(resources, delivery_table=create_delivery_table(stack_name=stack_name))


def create_event_source_mappings(resources: LocalResources) -> dict[str, str]:
    """The template's SQS event source mappings in moto (each with a placeholder function of its function's name,
    never invoked: the local stack runs the real handler): their logical id -> UUID, enabled as deployed."""
    import io
    import zipfile

    sqs, lambdas = boto3.client("sqs"), boto3.client("lambda")
    role = boto3.client("iam").create_role(
        RoleName="signup-relay-local-function", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    raise RuntimeError('never invoked')\n")
    queue_urls = {"SignupQueue": resources.queue_url, "DeadLetterQueue": resources.dlq_url}
    uuids = {}
    for consumer in sqs_consumers():
        lambdas.create_function(
            FunctionName=consumer.function,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )
        url = queue_urls[consumer.queue]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        uuids[consumer.logical_id] = lambdas.create_event_source_mapping(
            EventSourceArn=arn,
            FunctionName=consumer.function,
            BatchSize=consumer.batch_size,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )["UUID"]
        # moto would deliver to the placeholder itself (in Docker) on every send: the stack's poller is the consumer.
        _moto_queue(url, sqs.meta.region_name).lambda_event_source_mappings.clear()
    return uuids


def run_mapping_schedule(schedule: MappingSchedule, uuids: dict[str, str], *, client: Any | None = None) -> None:
    """What EventBridge Scheduler's universal target does at the schedule's time: UpdateEventSourceMapping."""
    lambdas = client or boto3.client("lambda")
    lambdas.update_event_source_mapping(UUID=uuids[schedule.mapping], Enabled=schedule.enabled)


def mapping_state(uuid: str, *, client: Any | None = None) -> str:
    """The mapping's State as Lambda reports it (Enabled, Disabled, ...)."""
    return str((client or boto3.client("lambda")).get_event_source_mapping(UUID=uuid)["State"])


def peek_messages(url: str, *, client: Any | None = None) -> list[dict[str, Any]]:
    """Every message on a queue with its system attributes, received and then made visible again at once."""
    sqs = client or boto3.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            found.setdefault(message["MessageId"], message)
    for message in found.values():
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return list(found.values())


def put_secret(secret_id: str, value: dict[str, Any]) -> None:
    """Create the JSON secret, or store a new version when it exists."""
    client = boto3.client("secretsmanager")
    try:
        client.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


def demo_webhook_secrets(path: Path = DEMO_SECRETS) -> dict[str, str]:
    """The demo routes' webhook secrets (local/demo_secrets.json, owned with routes.yaml)."""
    values = json.loads(path.read_text())
    return {key: value for key, value in values.items() if not key.startswith("_")}


def constant_contact_secret(
    *,
    client_id: str,
    client_secret: str,
    access_token: str,
    refresh_token: str,
    expires_in: int = 86_400,
    refresh_token_type: str = "rotating",
) -> dict[str, Any]:
    """The OAuth secret (docs/token-refresh.md), built as `connect` builds it, for a pair obtained just now.

    Unlike `connect`, a pair without a refresh token is accepted (an external account given an access token only).
    """
    # Imported on use, as in reset_relay_caches: importing this module must not set up signup_relay's logging.
    from signup_relay.ops.connect import oauth_secret
    from signup_relay.tokens.endpoint import TokenGrant

    return oauth_secret(
        client_id=client_id,
        client_secret=client_secret,
        refresh_token_type=refresh_token_type,
        grant=TokenGrant(access_token=access_token, refresh_token=refresh_token, expires_in=int(expires_in)),
        issued_at=time.time(),
    )


def handler_environment(
    resources: LocalResources,
    *,
    cc_api_base_url: str,
    cc_token_url: str,
    routes_file: Path = ROUTES_FILE,
    cc_v2_api_base_url: str | None = None,
) -> dict[str, str]:
    """The environment the functions the stack runs in-process (the template's HTTP, queue and schedule-triggered
    ones) get from the template, resolved for this local stack."""
    parameters = {**resources.parameters, "CcApiBaseUrl": cc_api_base_url, "CcTokenUrl": cc_token_url}
    if cc_v2_api_base_url:
        parameters["CcV2ApiBaseUrl"] = cc_v2_api_base_url
    refs = {
        "SignupQueue": resources.queue_url,
        "DeadLetterQueue": resources.dlq_url,
        "DeliveryIdempotencyTable": resources.delivery_table,
    }
    environment: dict[str, str] = {}
    invoked = [r.function for r in http_routes()] + [c.function for c in sqs_consumers()]
    invoked += [f.function for f in scheduled_functions()]
    for function in dict.fromkeys(invoked):
        for name, value in function_environment(function).items():
            resolved = resolve(value, parameters, refs)
            if resolved is not None:
                environment[name] = resolved
    environment["ROUTES_FILE"] = str(routes_file)  # relative to /var/task in Lambda; absolute here
    environment["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally
    return environment


def reset_relay_caches() -> None:
    """Forget every cached client, setting and wiring of signup_relay (after the environment changed)."""
    from aws_lambda_powertools.utilities import parameters

    from signup_relay import caches

    caches.clear_all()
    parameters.clear_caches()
    # Powertools keeps its default providers (and their boto3 clients) across calls.
    parameters.base.DEFAULT_PROVIDERS.clear()
