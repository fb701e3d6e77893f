"""Benchmark: `backfill` of one mixed CSV export, bulk mode and per-contact mode side by side.

Each mode gets its own sandbox seeded alike (existing, deleted and unsubscribed contacts), unthrottled: the figures
are Constant Contact calls (from the sandbox's request log), not time; at the real 4 requests/s a run takes
calls / 4 seconds. Also: contacts whose stored permission, lists or names differ between the two runs.
`python -m tests.bench.bench_backfill [--rows N] [--explicit-every N]` (defaults 1,000 and 3); part of `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from local.cc_sandbox import Sandbox

ROUTES = """\
version: 1
routes:
  past: {source: generic, secret: {key: past}, consent: implicit, lists: [News]}
"""
KINDS = ["new"] * 6 + ["existing"] * 2 + ["deleted", "unsubscribed"]


def export_rows(count: int, explicit_every: int) -> list[list[str]]:
    rows = []
    for n in range(count):
        email = f"{KINDS[n % len(KINDS)]}-{n}@example.com" if n % 250 != 249 else f"not-an-address-{n}"
        consent = "yes" if explicit_every and n % explicit_every == 0 else ""
        rows.append([email, f"First{n}", f"Last{n}", f"2024-01-01T00:{n % 60:02d}:00Z", consent])
    return rows


def seed(sandbox: Sandbox, count: int) -> None:
    sandbox.seed_list("News")
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        if kind == "existing":
            sandbox.seed_contact(f"{kind}-{n}@example.com", first_name="Old")
        elif kind == "deleted":
            sandbox.seed_contact(f"{kind}-{n}@example.com", deleted=True)
        elif kind == "unsubscribed":
            sandbox.seed_contact(f"{kind}-{n}@example.com", permission_to_send="unsubscribed")


def run_mode(mode: str, rows: list[list[str]], workdir: Path) -> tuple[dict[str, Any], dict[str, tuple[Any, ...]], int]:
    from signup_relay.caches import clear_all
    from signup_relay.ops.backfill import cli

    with Sandbox(rate_limit_per_second=0) as sandbox:
        seed(sandbox, len(rows))
        export = workdir / f"{mode}.csv"
        with export.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["Email", "First Name", "Last Name", "Submitted At", "Consent"])
            writer.writerows(rows)
        os.environ.update(
            {"CC_API_BASE_URL": sandbox.base_url, "CC_ACCESS_TOKEN": sandbox.issue_tokens()["access_token"]}
        )
        clear_all()
        sandbox.clear_request_log()
        argv = [str(export), "--route", "past", "--mode", mode, "--column", "consent=Consent", "--no-progress"]
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(argv)
        calls = sum(1 for entry in sandbox.request_log if entry["path"].startswith("/v3/"))
        summary = json.loads(export.with_name(export.name + ".summary.json").read_text())
        stored = {
            c["email_address"]["address"]: (
                c["email_address"]["permission_to_send"],
                len(c.get("list_memberships", [])),
                c.get("first_name"),
                c.get("last_name"),
            )
            for c in sandbox.all_contacts()
        }
        return summary, stored, calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--explicit-every", type=int, default=3, help="every Nth row opted in explicitly (0: none)")
    args = parser.parse_args(argv)
    rows = export_rows(args.rows, args.explicit_every)
    saved = dict(os.environ)  # `make bench` runs every benchmark in one process: leave the environment as found
    try:
        os.environ["CC_RATE_LIMIT_PER_SECOND"] = "0"
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            (workdir / "routes.yaml").write_text(ROUTES)
            os.environ["ROUTES_FILE"] = str(workdir / "routes.yaml")
            results = {mode: run_mode(mode, rows, workdir) for mode in ("per-contact", "bulk")}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    kinds = dict(Counter(KINDS[n % len(KINDS)] for n in range(len(rows))))
    explicit = f"1 in {args.explicit_every}" if args.explicit_every else "none"
    print(f"backfill of {len(rows)} rows ({kinds}; explicit: {explicit}; every 250th an invalid address)")
    for mode, (summary, _, calls) in results.items():
        print(
            f"  {mode:<11} calls {calls:>5}  per row {calls / len(rows):.3f}  ~{calls / 4:.0f} s at 4 requests/s  "
            f"outcomes {summary['counts']}"
        )
    per_contact, bulk = results["per-contact"][1], results["bulk"][1]
    differ = sorted(email for email in per_contact.keys() | bulk.keys() if per_contact.get(email) != bulk.get(email))
    print(f"  contacts stored differently by the two modes: {len(differ)}" + (f" e.g. {differ[:3]}" if differ else ""))


if __name__ == "__main__":
    main()
