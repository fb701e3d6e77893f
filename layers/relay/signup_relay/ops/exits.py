"""How the operator CLIs end on a refused configuration or an AWS failure: one line on stderr, exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from signup_relay.errors import RelayError

NO_CREDENTIALS = "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"


def exit_status(run: Callable[[], int], *, refused: tuple[type[RelayError], ...], err: TextIO | None = None) -> int:
    """`run()`'s exit status; a `refused` error (a bad flag, file or token) or an AWS failure is said, and is 2."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    err = err or sys.stderr
    try:
        return run()
    except refused as error:
        print(f"error: {error.message}", file=err)
    except NoCredentialsError:
        print(f"error: {NO_CREDENTIALS}", file=err)
    except (BotoCoreError, ClientError) as error:
        print(f"AWS error: {error}", file=err)
    return 2
