"""Shared test setup: fake AWS credentials, quiet Powertools, fresh settings and caches, event loading."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# What the shell had before the fakes below; only the opt-in tests/e2e (against a deployed stack) put it back.
# The shell's AWS identity, recorded before the fakes below replace it; only the opt-in e2e tests put it back.
REAL_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)
REAL_AWS_ENVIRONMENT = {name: os.environ[name] for name in REAL_AWS_VARIABLES if name in os.environ}

# Set before anything imports boto3: no test may reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SignupRelayTests",
        "POWERTOOLS_SERVICE_NAME": "signup-relay",
    }
)

pytest_plugins = ["tests.sandbox_fixtures"]

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """An API Gateway event from events/, the same file `sam local invoke -e` uses."""
    return json.loads((EVENTS_DIR / name).read_text())


@pytest.fixture(autouse=True)
def _fresh_settings_and_caches() -> Iterator[None]:
    from aws_lambda_powertools.utilities import parameters

    from signup_relay.config import get_settings

    get_settings.cache_clear()
    parameters.clear_caches()
    yield
    get_settings.cache_clear()
    parameters.clear_caches()
