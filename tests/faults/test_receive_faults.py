"""Receive-side faults: Secrets Manager and SQS failing on 30% of the calls make the sender get a 503, and its retry
succeed; every sign-up ends up queued exactly once.

The local stack has no hook for AWS faults, so this runs the receive handler in-process with moto and injects them
with botocore event hooks on the handler's own clients (`AwsFaults`): 503 answers that botocore's own retries see
like real ones, and SendMessage answers lost after the message was stored.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError

from functions.receive import app
from local.aws_resources import LocalResources, peek_messages
from signup_relay.aws.queue import get_sqs_client
from signup_relay.config import get_settings
from tests.conftest import load_event
from tests.integration.relay_fixtures import FakeLambdaContext

FAULT_RATE = 0.3
SIGNUPS = 40
SENDER_TRIES = 10  # real senders retry for hours; ten tries make giving up (0.2^10) practically impossible
SEED = 3


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


class AwsFaults:
    """Faults FAULT_RATE of the calls of each hooked operation, drawn per call with a seeded random.Random:

    - `blip`: the first try answers 503, botocore's retry gets through;
    - `outage`: every try answers 503, so the handler gets the error after botocore's retries;
    - `lost answer` (SendMessage): the message is stored, then the connection closes before the answer.
    """

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._fault: str | None = None  # the current call's (the handler makes one call at a time)

    def hook(self, client: Any, operation: str, *, lost_answers: bool = False) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        kinds = ("blip", "outage", "lost answer") if lost_answers else ("blip", "outage")
        events = client.meta.events
        events.register(f"before-call.{service}.{operation}", lambda **_: self._draw(operation, kinds))
        events.register(f"before-send.{service}.{operation}", self._answer_503)
        events.register(f"after-call.{service}.{operation}", self._lose_answer)

    def _draw(self, operation: str, kinds: tuple[str, ...]) -> None:
        self._fault = self.random.choice(kinds) if self.random.random() < FAULT_RATE else None
        if self._fault:
            self.counts[f"{self._fault} {operation}"] += 1

    def _answer_503(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self._fault not in ("blip", "outage"):
            return None  # on to moto
        if self._fault == "blip":
            self._fault = None
        body = json.dumps({"__type": "ServiceUnavailable", "message": "injected"}).encode()
        return AWSResponse(request.url, 503, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))

    def _lose_answer(self, http_response: AWSResponse, **_: Any) -> None:
        if self._fault == "lost answer":
            raise ConnectionClosedError(endpoint_url=http_response.url)


def signup_event(number: int) -> dict[str, Any]:
    event = load_event("generic_signup.json")
    event["headers"]["idempotency-key"] = f"receive-fault-{number:03d}"
    event["body"] = json.dumps({"email": f"r{number:03d}@faults.example.com", "first_name": f"R{number}"})
    del event["headers"]["content-length"]
    return event


def test_aws_faults_in_receive_answer_503_and_the_retried_delivery_is_queued_exactly_once(
    relay_aws: LocalResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    fault_summary: list[str],
):
    # Given the receive handler reading the webhook secret on every request (no cache), and 30% of the tries of
    # GetSecretValue and SendMessage failing: a 503 answer, or for SendMessage the answer lost after the write
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    get_settings.cache_clear()
    faults = AwsFaults(SEED)
    secrets = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    faults.hook(secrets.client, "GetSecretValue")
    monkeypatch.setitem(parameters.base.DEFAULT_PROVIDERS, "secrets", secrets)
    faults.hook(get_sqs_client(), "SendMessage", lost_answers=True)

    # When a sender delivers each sign-up, and delivers it again after a 5xx
    answers: dict[str, list[int]] = {}
    ids: dict[str, str] = {}
    for number in range(SIGNUPS):
        event = signup_event(number)
        key = event["headers"]["idempotency-key"]
        for _try in range(SENDER_TRIES):
            response = app.lambda_handler(event, lambda_context)
            answers.setdefault(key, []).append(response["statusCode"])
            if response["statusCode"] < 500:
                ids[key] = json.loads(response["body"])["id"]
                break
        else:
            pytest.fail(f"{key} was refused {SENDER_TRIES} times: {answers[key]}")

    # Then both services' faults happened, senders saw 503s, and every retry ended in a 200
    queued = Counter(m["Attributes"]["MessageDeduplicationId"] for m in peek_messages(relay_aws.queue_url))
    refused = Counter(status for statuses in answers.values() for status in statuses if status != 200)
    retried = sum(1 for statuses in answers.values() if len(statuses) > 1)
    fault_summary.append(
        f"receive faults: {SIGNUPS} sign-ups, injected {dict(sorted(faults.counts.items()))}; sender answers "
        f"refused {dict(refused)}, {retried} sign-ups retried; queued {len(queued)}, "
        f"queued twice {sum(1 for n in queued.values() if n > 1)}"
    )
    every_kind = {"blip GetSecretValue", "outage GetSecretValue", "blip SendMessage", "outage SendMessage"}
    assert every_kind | {"lost answer SendMessage"} <= set(faults.counts), faults.counts
    assert set(refused) == {503} and retried > 0, answers
    # And every sign-up is queued exactly once, under the id its sender was given
    assert queued == Counter(ids.values()), (queued, ids)
    assert len(ids) == SIGNUPS
