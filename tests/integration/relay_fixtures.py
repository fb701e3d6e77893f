"""Fixtures for driving the real handlers in-process: moto resources built from template.yaml, a Lambda context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from local.aws_resources import (
    LocalResources,
    create_resources,
    demo_webhook_secrets,
    handler_environment,
    peek_messages,
    put_secret,
    reset_relay_caches,
)


@dataclass
class FakeLambdaContext:
    function_name: str = "signup-relay-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:signup-relay-test"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    remaining_millis: int = 20_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def token_refresh_context() -> FakeLambdaContext:
    """The TokenRefreshFunction's context: a fresh invocation with its 60 s timeout (template.yaml) ahead."""
    return FakeLambdaContext(
        function_name="signup-relay-TokenRefreshFunction",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:signup-relay-TokenRefreshFunction",
        remaining_millis=60_000,
    )


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def relay_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    """moto SQS FIFO queue + DLQ and the delivery table from template.yaml, the demo webhook secret, and the
    functions' environment.

    Constant Contact points at a closed port: tests that upsert override it with the sandbox.
    """
    with mock_aws():
        resources = create_resources(visibility_timeout=0)
        put_secret(resources.webhook_secret_id, demo_webhook_secrets())
        environment = handler_environment(
            resources, cc_api_base_url="http://127.0.0.1:9/v3", cc_token_url="http://127.0.0.1:9/oauth2/token"
        )
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        reset_relay_caches()
        yield resources
        reset_relay_caches()


def dlq_records(url: str) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in peek_messages(url)]
