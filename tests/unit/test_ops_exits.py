"""How the operator CLIs end on a refused configuration or an AWS failure (`ops/exits.py`)."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from signup_relay.errors import AuthError, ConfigError
from signup_relay.ops.exits import exit_status


def failing(error: Exception):
    def run() -> int:
        raise error

    return run


def test_a_refused_configuration_is_said_and_ends_with_status_2() -> None:
    err = io.StringIO()
    assert exit_status(failing(ConfigError("no route 'x'")), refused=(ConfigError,), err=err) == 2
    assert err.getvalue() == "error: no route 'x'\n"


def test_aws_failures_are_said_with_what_to_do() -> None:
    err = io.StringIO()
    assert exit_status(failing(NoCredentialsError()), refused=(ConfigError,), err=err) == 2
    refused = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetSecretValue")
    assert exit_status(failing(refused), refused=(ConfigError,), err=err) == 2
    first, second = err.getvalue().splitlines()
    assert "aws sso login" in first and second.startswith("AWS error: ") and "AccessDenied" in second


def test_the_run_answers_its_own_status_and_other_errors_propagate() -> None:
    assert exit_status(lambda: 1, refused=(ConfigError,)) == 1
    with pytest.raises(AuthError):
        exit_status(failing(AuthError("401")), refused=(ConfigError,))
