"""`make recent`: the last sign-ups of a deployed stack and what happened to each, read from its structured logs.

Runs QUERY, a CloudWatch Logs Insights query, over the receive, upsert and bulk drain functions' log groups (named
by the stack's Outputs). The stack saves the same query as the `RecentSignupsQuery` query definition, for the console's
Logs Insights page; tests/unit/test_recent.py checks the template carries exactly QUERY.

`python -m signup_relay.ops.recent [--since 1h] [--stack signup-relay] [--region R] [--json]`
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from signup_relay.errors import ConfigError

# The keys the functions log (receive/intake.py, upsert/attempt.py, bulk/drain.py, functions/receive/app.py): an
# outcome line ("sign-up upserted", "sign-up deferred", "sign-up dead-lettered") has `outcome`; a refused delivery
# has `status` and a `path` instead of a `route`.
FIELDS = ("outcome", "status", "route", "path", "email", "reason", "error_class", "queued_id")
REFUSED_MESSAGE = "delivery refused"
LIMIT = 200
QUERY = (
    f"fields @timestamp, {', '.join(FIELDS)}\n"
    f'| filter ispresent(outcome) or message = "{REFUSED_MESSAGE}"\n'
    "| sort @timestamp desc\n"
    f"| limit {LIMIT}\n"
)
# The stack Outputs that name the functions whose log groups hold those lines. The bulk drain (burst mode) logs the
# outcomes of the sign-ups it applies; a stack deployed before it existed has no such output.
FUNCTION_OUTPUTS = ("ReceiveFunctionName", "UpsertFunctionName")
BURST_OUTPUT = "BulkDrainFunctionName"
LOCAL_NOTE = (
    "the local stack (make dev) prints each sign-up's outcome line on its console, and GET /_local/status lists the "
    "outcomes by id: make recent reads a deployed stack's CloudWatch logs"
)
_SINCE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ROUTE_IN_PATH = re.compile(r"^/hooks/([^/?]+)")
DONE = ("Complete", "Failed", "Cancelled", "Timeout")


@dataclass(frozen=True)
class RecentSignup:
    """One line of `make recent`."""

    time: str
    outcome: str
    route: str
    email: str
    reason: str
    id: str


def since_seconds(text: str) -> int:
    """`90s`, `30m`, `1h`, `7d` -> seconds."""
    match = _SINCE.match(text)
    if not match or int(match[1]) == 0:
        raise ConfigError(f"--since {text!r}: give a number and a unit, e.g. 30m, 1h, 2d")
    return int(match[1]) * _SECONDS[match[2]]


def signups_from_results(results: Sequence[Sequence[dict[str, str]]]) -> list[RecentSignup]:
    """GetQueryResults' `results` (rows of {"field", "value"}; a field a record lacks is absent from its row,
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html) -> sign-ups."""
    signups = []
    for row in results:
        cells = {cell["field"]: cell.get("value", "") for cell in row}
        route_in_path = _ROUTE_IN_PATH.match(cells.get("path", ""))
        outcome = cells.get("outcome") or (f"refused {cells['status']}" if cells.get("status") else "")
        signups.append(
            RecentSignup(
                time=cells.get("@timestamp", ""),
                outcome=outcome,
                route=cells.get("route") or (route_in_path[1] if route_in_path else ""),
                email=cells.get("email", ""),
                reason=cells.get("reason") or cells.get("error_class", ""),
                id=cells.get("queued_id", ""),
            )
        )
    return signups


def format_table(signups: Sequence[RecentSignup]) -> str:
    """Newest first, one line each: time, outcome, route, masked email, reason."""
    if not signups:
        return "no sign-ups in that window"
    header = ("time (UTC)", "outcome", "route", "email", "reason")
    rows = [(s.time, s.outcome, s.route, s.email, s.reason) for s in signups]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]) for row in rows]
    title = "  ".join([*(cell.ljust(w) for cell, w in zip(header[:4], widths, strict=True)), header[4]])
    return "\n".join([title.rstrip(), *(line.rstrip() for line in lines)])


def log_groups(outputs: dict[str, str]) -> list[str]:
    """The receive, upsert and (when the stack has it) bulk drain functions' log groups, from the stack's Outputs."""
    missing = [name for name in FUNCTION_OUTPUTS if not outputs.get(name)]
    if missing:
        raise ConfigError(f"the stack has no {' or '.join(missing)} output: deploy the current template.yaml")
    names = [*FUNCTION_OUTPUTS, BURST_OUTPUT] if outputs.get(BURST_OUTPUT) else FUNCTION_OUTPUTS
    return [f"/aws/lambda/{outputs[name]}" for name in names]


def run_query(
    logs: Any,
    groups: list[str],
    *,
    since: int,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 60.0,
) -> list[list[dict[str, str]]]:
    """QUERY over `groups` for the last `since` seconds, polled until it completes; its `results`."""
    end = int(now())
    query_id = logs.start_query(logGroupNames=groups, startTime=end - since, endTime=end, queryString=QUERY)["queryId"]
    deadline = now() + timeout
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] in DONE:
            break
        if now() > deadline:
            raise ConfigError(f"the Logs Insights query did not finish within {timeout:.0f}s; try a shorter --since")
        sleep(1.0)
    if answer["status"] != "Complete":
        raise ConfigError(f"the Logs Insights query ended {answer['status']}")
    return list(answer.get("results", []))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m signup_relay.ops.recent",
        description="The last sign-ups of a deployed stack: time, outcome, route, masked email and reason. "
        + LOCAL_NOTE
        + ".",
    )
    parser.add_argument("--since", default="1h", help="how far back: 30m, 1h (default), 2d")
    parser.add_argument("--stack", default="signup-relay", help="the stack name (default signup-relay)")
    parser.add_argument("--region", help="AWS region of the stack [AWS_REGION, else your profile's region]")
    parser.add_argument("--json", action="store_true", help="one JSON object per sign-up")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from signup_relay.aws import dead_letter_reader as stacks

    try:
        since = since_seconds(args.since)
        region = args.region or boto3.session.Session().region_name
        if not region:
            raise ConfigError(
                "no AWS region: pass --region (make recent REGION=eu-west-1), set AWS_REGION, or give your AWS "
                f"profile a region (aws configure); {LOCAL_NOTE}"
            )
        groups = log_groups(stacks.stack_outputs(args.stack, stacks.get_cloudformation_client(region)))
        results = run_query(boto3.client("logs", region_name=region), groups, since=since)
    except ConfigError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except NoCredentialsError:
        print(f"error: no AWS credentials: set AWS_PROFILE or run aws configure; {LOCAL_NOTE}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        missing = "does not exist" in str(error)  # describe_stacks' ValidationError for an unknown stack
        print(f"error: {error}" + (f"; {LOCAL_NOTE}" if missing else ""), file=sys.stderr)
        return 1
    signups = signups_from_results(results)
    if args.json:
        print("\n".join(json.dumps(asdict(signup)) for signup in signups))
    else:
        print(format_table(signups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
