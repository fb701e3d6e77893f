"""`python -m signup_relay.ops.backfill` (`make backfill ARGS=...`): flags, where Constant Contact is, the run.

Where: env CC_ACCESS_TOKEN (with CC_API_BASE_URL) uses that token as it is: the local stack's sandbox (`make dev`
prints both) or any account for a one-off run. Otherwise the account secret of the route (or --secret-id) is read
from Secrets Manager in --region, as the deployed upsert function reads it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from signup_relay.clock import utc_now
from signup_relay.errors import AuthError, ConfigError, UnknownRouteError
from signup_relay.ops.backfill.apply import INTERRUPTED, MODES, Applier, Mode, bulk_applier, per_contact_applier
from signup_relay.ops.backfill.checkpoint import Checkpoint
from signup_relay.ops.backfill.mapping import (
    RowMapper,
    check_columns,
    parse_columns,
    parse_time,
    route_with_columns,
    time_column,
)
from signup_relay.ops.backfill.reading import open_export
from signup_relay.ops.backfill.report import (
    Written,
    failed_path,
    last_failed_sha256,
    write_failed_rows,
    write_summary,
)
from signup_relay.ops.backfill.run import Backfill
from signup_relay.ops.exits import exit_status

# A drain run's size (BurstMaxSignups): a run's fixed ~10 calls over 2,000 rows, and an interruption re-applies at
# most 2,000 rows (docs/architecture.md §11, §13).
BULK_BATCH = 2000
# Per contact, Ctrl-C still records every row applied; a crash re-applies at most this many (the same data).
PER_CONTACT_BATCH = 50

DESCRIPTION = """Bring past form submissions (a CSV or JSONL export) into Constant Contact with a route's mapping.

CSV: a header row, then one submission per row. Columns are found as a live form's fields are: the route's
`fields:` mapping names them (by header, case-insensitive), else the usual labels (Email, First Name, ...).
--column FIELD=COLUMN overrides: a contact field (email, first_name, phone, ...), submitted_at, consent (a
checkbox column: ticked = explicit), or cf:<custom field name>. The submission time comes from a
Submitted At / Timestamp / Created At column when present.
JSONL: one delivery body of the route's source per line, parsed by that source's parser without signature
verification (the file is your own export): a JSON body as it is, or a JSON string holding a body of another
type (form-encoded by default; --content-type for another).

Every row needs its real submission time (an opt-out after it wins): a column, the delivery's own timestamp,
or --submitted-at for rows without one.

Beside the input: <input>.checkpoint.json (applied rows; a re-run skips them), <input>.summary.json, and
<stem>.failed.<ext> (rows to fix, with their reason; fix and give it back to backfill).

Constant Contact: env CC_ACCESS_TOKEN + CC_API_BASE_URL (the local stack prints both), else the account
secret from Secrets Manager (--secret-id, default the route's account or CC_SECRET_ID) in --region."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m signup_relay.ops.backfill",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="the export: .csv, or .jsonl / .ndjson")
    parser.add_argument("--route", required=True, help="the route (in the routes file) whose mapping applies")
    parser.add_argument("--routes-file", help="the routes file [env ROUTES_FILE or routes.yaml]")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="the input's format [from its suffix]")
    parser.add_argument(
        "--column", action="append", default=[], metavar="FIELD=COLUMN", help="CSV column of a field (repeatable)"
    )
    parser.add_argument("--submitted-at", metavar="TIME", help="submission time of rows without one (ISO 8601)")
    parser.add_argument(
        "--content-type",
        default="application/x-www-form-urlencoded",
        help="JSONL: content type of the bodies given as JSON strings [application/x-www-form-urlencoded]",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="bulk",
        help="bulk: contacts_json_import, with the per-contact path where consent or state needs it (default); "
        "per-contact: every row as a live delivery is applied (2 calls each)",
    )
    parser.add_argument("--batch-size", type=int, help="rows per batch and checkpoint [bulk 2000, per-contact 50]")
    parser.add_argument("--dry-run", action="store_true", help="print the mapped contacts (masked) and the calls")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file [<input>.checkpoint.json]")
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint and apply every row again")
    parser.add_argument("--secret-id", help="Constant Contact account secret [the route's account, else CC_SECRET_ID]")
    parser.add_argument("--region", help="AWS region of the secret [AWS_REGION, else your profile's region]")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


class StaticToken:
    """A token given as it is (CC_ACCESS_TOKEN): nobody refreshes it, so a 401 ends the run with a clear reason."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def after_unauthorized(self, stale_access_token: str) -> str:
        raise AuthError("Constant Contact refused CC_ACCESS_TOKEN (401): set a current token and run again")


def _refuse_refresh(secret_id: str, stale_access_token: str) -> None:
    # The deployed TokenRefreshFunction is the single writer of the secret (docs/token-refresh.md): never refresh
    # from a laptop; the token it keeps is valid for hours, so a 401 that outlives a re-read is a real problem.
    raise AuthError(f"the access token in {secret_id} was refused: check the stack's token refresh or run make connect")


def account_client(
    args: argparse.Namespace, account: str | None, env: Mapping[str, str], out: TextIO
) -> tuple[Any, Any]:
    """(ConstantContactClient, NameDirectory) for the run: a given token, or the account secret; says which."""
    from signup_relay.config import get_settings
    from signup_relay.constant_contact.client import ConstantContactClient
    from signup_relay.constant_contact.names import NameDirectory
    from signup_relay.constant_contact.transport import get_http
    from signup_relay.upsert.wiring import get_pacer

    settings = get_settings()
    tokens: Any
    if env.get("CC_ACCESS_TOKEN"):
        tokens = StaticToken(env["CC_ACCESS_TOKEN"])
        where = "the token in CC_ACCESS_TOKEN" + (
            " (--region and --secret-id unused)" if args.region or args.secret_id else ""
        )
    else:
        import boto3
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        region = args.region or boto3.session.Session().region_name
        if not region:
            raise ConfigError("no AWS region: pass --region, set AWS_REGION, or give your AWS profile a region")
        from signup_relay.tokens.reader import TokenProvider

        secret_id = args.secret_id or account or settings.cc_secret_id
        provider = SecretsProvider(boto3_client=boto3.client("secretsmanager", region_name=region))
        tokens = TokenProvider(secret_id, refresher=_refuse_refresh, secrets=provider)
        if tokens.api() == "v2":
            raise ConfigError(f"secret {secret_id} is a V2 account; backfill writes through the V3 API only")
        where = f"the account secret {secret_id} in {region}"
    print(f"Constant Contact: {settings.cc_api_base_url}, with {where}", file=out, flush=True)
    client = ConstantContactClient(base_url=settings.cc_api_base_url, tokens=tokens, http=get_http(), pacer=get_pacer())
    return client, NameDirectory(client)


def run(args: argparse.Namespace, *, env: Mapping[str, str], now: datetime, out: TextIO | None = None) -> int:
    """The parsed command; returns the exit status (1 when rows need a fix or the run stopped early)."""
    out = out or sys.stdout
    from signup_relay.config import get_settings
    from signup_relay.routes import load_routes

    routes = load_routes(args.routes_file or get_settings().routes_file)
    try:
        route = routes.get(args.route)
    except UnknownRouteError:
        known = ", ".join(routes.routes) or "none"
        raise ConfigError(f"no route {args.route!r} in the routes file (its routes: {known})") from None
    if route.options.api == "v2":
        raise ConfigError(f"route {route.name!r} writes through the V2 API (api: v2); backfill writes through V3 only")
    export = open_export(args.input, args.format)
    columns = parse_columns(args.column)
    if export.format == "jsonl" and args.column:
        raise ConfigError("--column applies to CSV input; JSONL rows are mapped by the route as live deliveries")
    default_time = None
    if args.submitted_at:
        default_time = parse_time(args.submitted_at)
        if default_time is None:
            raise ConfigError(f"--submitted-at {args.submitted_at!r} is not a date and time")
    if export.format == "csv":
        route = route_with_columns(route, columns, export.header)
        for note in check_columns(route, export.header):
            print(f"note: {note}", file=out)
    mapper = RowMapper(
        route=route,
        now=now,
        time_column=time_column(export.header, columns) if export.format == "csv" else None,
        default_submitted_at=default_time,
        content_type=args.content_type,
    )
    mode: Mode = args.mode
    batch_size = args.batch_size or (BULK_BATCH if mode == "bulk" else PER_CONTACT_BATCH)
    if batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    checkpoint_file = args.checkpoint or args.input.with_name(args.input.name + ".checkpoint.json")
    checkpoint = Checkpoint.open(checkpoint_file, input_sha256=export.sha256, route=route.name, restart=args.restart)
    applier: Applier | None = None
    if not args.dry_run:
        client, names = account_client(args, route.account, env, out)
        applier = bulk_applier(client, names) if mode == "bulk" else per_contact_applier(client, names)
    backfill = Backfill(export, mapper, checkpoint, applier, mode, batch_size, out=out)
    summary = _with_progress(backfill, export.count(), enabled=not args.no_progress)
    summary_file = args.input.with_name(args.input.name + ".summary.json")
    failed = Written()
    if not args.dry_run:
        failed = write_failed_rows(
            export, backfill.to_fix, failed_path(args.input), last_written=last_failed_sha256(summary_file)
        )
        write_summary(summary, summary_file, failed)
    print(summary.text(failed.path), file=out)
    if not args.dry_run:
        print(f"summary: {summary_file}; checkpoint: {checkpoint_file}", file=out)
    if summary.stopped == INTERRUPTED:
        return 130
    return 1 if summary.failures or summary.stopped else 0


def _with_progress(backfill: Backfill, total: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    # On stderr, so stdout (the dry run's lines, the summary) stays clean to read or pipe.
    with tqdm(total=total, unit="row", disable=not enabled or None, file=sys.stderr, leave=False) as bar:
        backfill.progress = bar.update
        return backfill.run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return exit_status(lambda: run(args, env=os.environ, now=utc_now()), refused=(ConfigError, AuthError))
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume from the checkpoint", file=sys.stderr)
        return 130
