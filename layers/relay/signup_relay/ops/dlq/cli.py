"""`python -m signup_relay.ops.dlq` (`make dlq ARGS=...`): where the queues are, the parser, text output, run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from signup_relay.aws.dead_letter_reader import DLQ_OUTPUT, QUEUE_OUTPUT, DeadLetterReader
from signup_relay.errors import ConfigError
from signup_relay.ops.dlq.entries import Entry, iso_timestamp, mask_text
from signup_relay.ops.dlq.purge import PurgeReport, purge_dead_letters
from signup_relay.ops.dlq.replay import ReplayReport, replay_dead_letters
from signup_relay.ops.dlq.selection import Listing, Selection, find_dead_letter, list_dead_letters
from signup_relay.ops.exits import exit_status

LOCAL_STACK_NOTE = (
    "The local stack (make dev) keeps its queues in moto inside its own process, so this CLI cannot reach them: "
    "use GET /_local/dlq and POST /_local/dlq/replay on the local stack instead."
)


def resolve_queue_urls(
    *,
    dlq_url: str | None,
    queue_url: str | None,
    stack_name: str | None,
    env_dlq_url: str,
    env_queue_url: str,
    stack_outputs: Callable[[str], Mapping[str, str]],
) -> tuple[str, str]:
    """(DLQ URL, signup queue URL): the flags, else the stack's Outputs when a stack is named, else the env."""
    if stack_name and not (dlq_url and queue_url):
        outputs = stack_outputs(stack_name)
        return dlq_url or outputs.get(DLQ_OUTPUT, ""), queue_url or outputs.get(QUEUE_OUTPUT, "")
    return dlq_url or env_dlq_url, queue_url or env_queue_url


DESCRIPTION = f"""List, inspect, replay and purge dead-lettered sign-ups.

Queues: --dlq-url/--queue-url, else --stack-name (the deployed stack's Outputs {DLQ_OUTPUT} and
{QUEUE_OUTPUT}), else env DLQ_URL/QUEUE_URL. AWS credentials and region come from the usual AWS environment.
Records are read under a visibility timeout, so a concurrent reader never replays them twice.

{LOCAL_STACK_NOTE}"""

REPLAY_HELP = """Re-send the selected records, after fixing their cause. Upsert-stage records and redriven sign-ups
go back to the signup queue with the person's data as stored and the options and account of their route in the
CURRENT routes file ("options from current route"): fix the cause in the routes file (e.g. create_missing_lists:
true) or in Constant Contact (create the missing list, reconnect the account). A record whose route is no longer in
the routes file keeps the options it was received with ("stored options kept"). Receive-stage records are
re-parsed with the CURRENT routes file (no signature check) and queued when they now make a valid sign-up, else
kept in the DLQ with the new reason. A record leaves the DLQ only after its re-send succeeded."""


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On the subcommands too, so options work before or after the subcommand; SUPPRESS keeps the top-level value.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--dlq-url", default=default(None), help="the DLQ's URL")
    parser.add_argument("--queue-url", default=default(None), help="the signup queue's URL (replay)")
    parser.add_argument("--stack-name", default=default(None), help="read the queue URLs from this stack's Outputs")
    parser.add_argument(
        "--region", default=default(None), help="AWS region of the stack [AWS_REGION, else your profile's region]"
    )
    parser.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=default(120),
        help="seconds a read record stays hidden from other readers if this run dies [120]",
    )
    parser.add_argument(
        "--wait", type=int, default=default(1), help="long-poll seconds per receive (0 = short polling) [1]"
    )


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--route", help="only records of this route")
    parser.add_argument("--error-class", help="only records with this error class")
    parser.add_argument(
        "--id", dest="ids", action="append", default=[], help="only this record (DLQ id, 8+ char prefix, or queued id)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m signup_relay.ops.dlq",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="{list,show,replay,purge}")
    list_parser = commands.add_parser("list", help="one line per record and a count by error class (default)")
    _common_options(list_parser, suppress=True)
    _filter_options(list_parser)
    show = commands.add_parser("show", help="one record in full (emails masked, secrets redacted)")
    _common_options(show, suppress=True)
    show.add_argument("id", help="DLQ id (or an 8+ character prefix) or queued id")
    replay = commands.add_parser("replay", help="re-send records after a fix", description=REPLAY_HELP)
    _common_options(replay, suppress=True)
    _filter_options(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    replay.add_argument(
        "--routes-file",
        help="the current routes file: re-parses receive-stage records, gives the others their route's options and "
        "account [env ROUTES_FILE or routes.yaml]",
    )
    purge = commands.add_parser("purge", help="delete records for good (asks first unless --yes)")
    _common_options(purge, suppress=True)
    _filter_options(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _cell(value: object) -> str:
    return "-" if value in (None, "") else str(value)


def format_entries(entries: Sequence[Entry], *, extra: Sequence[str] | None = None) -> list[str]:
    """Aligned lines: id, stage, route, error class, masked email, attempts, failed at, then message (or `extra`)."""
    rows = [
        [
            entry.id,
            entry.stage,
            _cell(entry.route),
            entry.error_class,
            _cell(entry.masked_email),
            f"attempts={_cell(entry.attempts)}",
            _cell(iso_timestamp(entry.failed_at)),
        ]
        for entry in entries
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(7)]
    tails = extra if extra is not None else [entry.message for entry in entries]
    lines = []
    for row, tail in zip(rows, tails, strict=True):
        flat = " ".join(mask_text(tail).split())
        flat = flat if len(flat) <= 160 else flat[:157] + "..."
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + "  " + flat)
    return lines


def _not_read_note(not_read: int) -> list[str]:
    if not not_read:
        return []
    return [
        f"about {not_read} more record(s) could not be read now: they wait behind the records above in the same "
        "message group (a FIFO group is read in order), or another reader holds them. Replay or purge these "
        "first, or run again in a few minutes."
    ]


def format_listing(listing: Listing) -> str:
    lines = format_entries(listing.entries)
    if listing.entries:
        counts = ", ".join(f"{name} {count}" for name, count in listing.summary.items())
        lines.append(f"{len(listing.entries)} record(s): {counts}")
    else:
        lines.append("no records in the DLQ")
    return "\n".join(lines + _not_read_note(listing.not_read))


def format_entry(entry: Entry) -> str:
    data = entry.to_json(detail=True)
    lines = []
    for name, value in data.items():
        if value in (None, {}, ""):
            continue
        if isinstance(value, dict):
            lines.append(f"{name}:")
            lines.extend(
                f"  {key}: {json.dumps(item) if isinstance(item, dict | list) else item}" for key, item in value.items()
            )
        elif name == "body":
            lines.append("body:")
            lines.extend(f"  {line}" for line in str(value).splitlines() or [""])
        else:
            lines.append(f"{name}: {value}")
    return "\n".join(lines)


# Each replay action (replay.ACTIONS) as the text output says it.
ACTION_WORDS = {
    "replayed": "replayed",
    "would_replay": "would replay",
    "still_failing": "still failing",
    "would_still_fail": "would still fail",
    "not_replayable": "not replayable",
    "error": "error",
}


def format_replay(report: ReplayReport) -> str:
    results = report.results
    labels = [ACTION_WORDS[result.action] for result in results]
    width = max((len(label) for label in labels), default=0)
    entries = format_entries([r.entry for r in results], extra=[r.detail for r in results])
    lines = [f"{label.ljust(width)}  {line}" for label, line in zip(labels, entries, strict=True)]
    counts = ", ".join(f"{count} {ACTION_WORDS[action]}" for action, count in report.counts.items()) or "0 selected"
    prefix = "dry run, nothing changed: " if report.dry_run else "replay: "
    lines.append(prefix + counts)
    return "\n".join(lines + _not_read_note(report.not_read))


def format_purge(report: PurgeReport) -> str:
    lines = [f"purged  {line}" for line in format_entries(report.purged)]
    lines += [f"NOT deleted  {line}" for line in format_entries(report.failed)]
    lines.append(f"purged {len(report.purged)} record(s)" + (f", {len(report.failed)} failed" if report.failed else ""))
    return "\n".join(lines + _not_read_note(report.not_read))


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    """The parsed command, against AWS (or moto, in-process). Returns the exit status."""
    from signup_relay.aws.dead_letter_reader import get_cloudformation_client, stack_outputs
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue, sqs_client
    from signup_relay.config import get_settings

    settings = get_settings()
    for url in (args.dlq_url, args.queue_url):
        if url and urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(LOCAL_STACK_NOTE)
    region = args.region or region_of(args.dlq_url or settings.dlq_url) or _default_region()
    if not region:
        raise ConfigError(
            'no AWS region: pass --region (make dlq ARGS="--region eu-west-1"), set AWS_REGION, or give your '
            "AWS profile a region (aws configure)"
        )
    dlq_url, queue_url = resolve_queue_urls(
        dlq_url=args.dlq_url,
        queue_url=args.queue_url,
        stack_name=args.stack_name,
        env_dlq_url=settings.dlq_url,
        env_queue_url=settings.queue_url,
        stack_outputs=lambda name: stack_outputs(name, get_cloudformation_client(region)),
    )
    if not dlq_url:
        raise ConfigError("no DLQ URL: pass --dlq-url or --stack-name, or set DLQ_URL")
    client = sqs_client(region)
    reader = DeadLetterReader(
        url=dlq_url, client=client, visibility_timeout=args.visibility_timeout, wait_seconds=args.wait
    )
    command = args.command or "list"
    selection = Selection(
        route=getattr(args, "route", None),
        error_class=getattr(args, "error_class", None),
        ids=tuple(getattr(args, "ids", [])),
    )

    if command == "list":
        listing = list_dead_letters(reader, selection)
        _emit(args, listing.to_json(), format_listing(listing))
        return 0
    if command == "show":
        try:
            entry = find_dead_letter(reader, args.id)
        except LookupError as error:
            print(f"error: {error.args[0]}", file=sys.stderr)
            return 1
        _emit(args, entry.to_json(detail=True), format_entry(entry))
        return 0
    if command == "replay":
        if not queue_url:
            raise ConfigError("no signup queue URL: pass --queue-url or --stack-name, or set QUEUE_URL")
        from signup_relay.routes import load_routes

        routes_file = args.routes_file or settings.routes_file
        report = replay_dead_letters(
            reader,
            queue=SignupQueue(url=queue_url, client=client),
            dlq=DeadLetterQueue(url=dlq_url, client=client),
            load_routes=lambda: load_routes(routes_file),
            selection=selection,
            dry_run=args.dry_run,
        )
        _emit(args, report.to_json(), format_replay(report))
        return 1 if report.left_in_dlq else 0
    # purge
    if not args.yes:
        listing = list_dead_letters(reader, selection)
        if not listing.entries:
            _emit(args, PurgeReport(purged=()).to_json(), "nothing to purge")
            return 0
        print("\n".join(format_entries(listing.entries)), file=sys.stderr)
        if not _confirm(f"Delete these {len(listing.entries)} record(s) for good? [y/N] "):
            print("not purged: confirm at the prompt, or pass --yes", file=sys.stderr)
            return 1
        # Exactly the records shown, not whatever else arrived meanwhile.
        selection = Selection(ids=tuple(entry.id for entry in listing.entries))
    purge_report = purge_dead_letters(reader, selection)
    _emit(args, purge_report.to_json(), format_purge(purge_report))
    return 1 if purge_report.failed else 0


def region_of(sqs_url: str) -> str | None:
    """The region in an SQS queue URL (https://sqs.<region>.amazonaws.com/...), if it is one."""
    parts = (urlsplit(sqs_url).hostname or "").split(".")
    return parts[1] if len(parts) > 3 and parts[0] == "sqs" else None


def _default_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_status(lambda: run(args), refused=(ConfigError,))
