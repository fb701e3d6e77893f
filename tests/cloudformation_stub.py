"""A deployed stack's Outputs for the CLIs that read them, stubbed at the botocore level.

moto's CloudFormation needs extras (openapi-spec-validator and more) this project does not install, so
`describe_stacks` is answered by botocore's Stubber on a real client, patched in where the CLIs get theirs.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from signup_relay.aws import dead_letter_reader


def stubbed_stack(
    monkeypatch: pytest.MonkeyPatch, stack_name: str, outputs: dict[str, str], region: str | None = None
) -> Stubber:
    """A Stubber whose one `describe_stacks(StackName=stack_name)` answers `outputs`; use it as `with stubber:`."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    stubber = Stubber(cloudformation)
    stack = {"StackName": stack_name, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE"}
    listed = [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()]
    stubber.add_response("describe_stacks", {"Stacks": [{**stack, "Outputs": listed}]}, {"StackName": stack_name})
    monkeypatch.setattr(dead_letter_reader, "get_cloudformation_client", lambda region=None: cloudformation)
    return stubber
