"""Benchmark: a burst of mixed sign-ups through the local stack, per contact and in burst mode, side by side.

Webhooks over HTTP -> receive -> moto SQS FIFO -> the poller (UpsertFunction) and the scheduled BulkDrainFunction
-> the sandbox at Constant Contact's 4 requests/s on its own clock, run `--time-scale` times faster than real time
(the relay's pacing and the drain's one-minute schedule scaled alike), so seconds on the sandbox clock are seconds
at the real rate (where the local process keeps up: its own CPU time is not scaled). Default 500 sign-ups (about
6 minutes: the two timed runs and a third, burst mode under tracemalloc, for memory); `--full` sends the 2,000 of
a newsletter launch (about 25 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.burst_scenario import REAL_RATE, Burst, generic_body, run_burst

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["new"] * 8 + ["rich"] * 4 + ["deleted"] * 3 + ["unsubscribed"] * 3 + ["gone", "twice"]
INVALID_EVERY = 400
LAMBDA_MB = 128


def burst_of(count: int) -> tuple[list[tuple[str, dict[str, str]]], dict[str, str], dict[str, str]]:
    """(delivery id, body) in arrival order, the seeded people, and each delivery id's kind."""
    deliveries: list[tuple[str, dict[str, str]]] = []
    people: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for n in range(count):
        if n % INVALID_EVERY == INVALID_EVERY - 1:
            deliveries.append((f"bad-{n}", {"email": f"not-an-address-{n}"}))
            kinds[f"bad-{n}"] = "invalid"
            continue
        kind = KINDS[n % len(KINDS)]
        explicit = n % 3 == 0
        email = f"b{n - 1}-new@example.com" if kind == "twice" else f"b{n}-{kind}@example.com"
        if kind not in ("new", "twice"):
            people[email] = kind
        lists = "events" if n % 5 == 0 else "newsletter"
        body = generic_body(email, explicit=explicit, first_name=f"F{n}", company=f"Co {n}", lists=lists)
        deliveries.append((f"d-{n}", body))
        kinds[f"d-{n}"] = f"{kind}, {'explicit' if explicit else 'implicit'}"
    return deliveries, people, kinds


def import_rss_mb(module: str) -> float:
    """Max RSS of a fresh interpreter that imported the handler module (what a cold container holds first)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) forking benchmark process.
    code = (
        f"import {module}, re, pathlib; "
        "print(re.search(r'VmHWM:\\s+(\\d+)', pathlib.Path('/proc/self/status').read_text()).group(1))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def report(per_contact: Burst, burst: Burst, kinds: dict[str, str]) -> None:
    signups = len(per_contact.accepted)
    path = {key.split(":", 1)[1]: v.get("path") for key, v in burst.results.items()}
    imported = [d for d, p in path.items() if p in ("imported", "merged")]
    bulk_calls = sum(run["calls"] for run in burst.drain_runs)
    differing = [e for e, v in burst.views.items() if v != per_contact.views[e]]
    print(f"sign-ups: {signups} accepted of {len(kinds)} sent, all queued at once")
    print(f"{'':34}{'per contact':>14}{'burst':>14}")
    rows = [
        ("Constant Contact calls", per_contact.cc_calls, burst.cc_calls),
        ("calls per sign-up", per_contact.cc_calls / signups, burst.cc_calls / signups),
        ("429 answers", per_contact.throttled, burst.throttled),
        ("time to drain (s at 4 req/s)", per_contact.sandbox_seconds, burst.sandbox_seconds),
        ("  the calls alone (calls / 4)", per_contact.cc_calls / REAL_RATE, burst.cc_calls / REAL_RATE),
        ("  in rate-limit slots (s x 4)", per_contact.sandbox_seconds * REAL_RATE, burst.sandbox_seconds * REAL_RATE),
        ("lost", len(per_contact.lost), len(burst.lost)),
        ("DLQ entries", len(per_contact.dlq), len(burst.dlq)),
    ]
    for name, a, b in rows:
        print(f"  {name:32}{a:>14.3f}{b:>14.3f}" if isinstance(a, float) else f"  {name:32}{a:>14}{b:>14}")
    dlq_classes = (Counter(r["error_class"] for r in run.dlq) for run in (per_contact, burst))
    print("  DLQ classes (per contact, burst): " + ", ".join(str(dict(c)) for c in dlq_classes))
    rest = signups - len(imported)
    per_imported = bulk_calls / max(1, len(imported))
    print(
        f"burst mode: {len(imported)} sign-ups imported by {len(burst.drain_runs)} drain run(s) in {bulk_calls} "
        f"calls = {per_imported:.3f} per imported sign-up (target <= 0.05); {rest} per contact in "
        f"{burst.cc_calls - bulk_calls} calls = {(burst.cc_calls - bulk_calls) / max(1, rest):.2f} each"
    )
    print(f"  {'kind':28}{'sent':>6}{'imported':>10}{'per contact':>13}")
    for kind in sorted(set(kinds.values())):
        ids = [d for d, k in kinds.items() if k == kind]
        done = sum(1 for d in ids if d in imported)
        print(f"  {kind:28}{len(ids):>6}{done:>10}{len(ids) - done:>13}")
    before = {k: v["outcome"] for k, v in per_contact.results.items()}
    outcome_changes = sum(1 for k, v in burst.results.items() if k in before and before[k] != v["outcome"])
    print(
        f"contacts stored differently from the per-contact run: {len(differing)} (of {len(burst.views)}); "
        f"sign-ups with another outcome: {outcome_changes}"
    )
    for name, peak in sorted({**per_contact.peak_heap, **burst.peak_heap}.items()):
        module = "functions.upsert.app" if name == "UpsertFunction" else "functions.bulk_drain.app"
        base = import_rss_mb(module)
        print(
            f"peak memory {name}: {base:.1f} MB after imports (RSS) + {peak / 2**20:.1f} MB Python heap over its "
            f"largest invocation = {base + peak / 2**20:.1f} MB (Lambda's smallest: {LAMBDA_MB} MB)"
        )


@contextlib.contextmanager
def quiet_service_output() -> Iterator[None]:
    """The handlers' JSON log lines and EMF metrics to /dev/null (the stack still reads its outcomes off them)."""
    from signup_relay.observability import logger

    handler: Any = logger.registered_handler
    stream = handler.stream
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        handler.stream = null
        try:
            yield
        finally:
            handler.stream = stream


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_burst", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="2,000 sign-ups (default 500)")
    parser.add_argument("--signups", type=int, default=None)
    parser.add_argument("--time-scale", type=float, default=10.0, help="sandbox seconds per real second")
    args = parser.parse_args([] if argv is None else argv)
    count = args.signups or (2000 if args.full else 500)
    deliveries, people, kinds = burst_of(count)
    common = {"time_scale": args.time_scale, "activity_delay": 5.0, "activity_item_seconds": 0.01}
    with quiet_service_output():
        per_contact = run_burst(deliveries, people, burst=False, rate=REAL_RATE, **common)
        burst = run_burst(deliveries, people, burst=True, rate=REAL_RATE, **common)
        # Memory apart: tracemalloc slows the process several times, which would distort the timed runs.
        measured = run_burst(deliveries, people, burst=True, measure_memory=True, rate=REAL_RATE, **common)
    burst.peak_heap = measured.peak_heap
    report(per_contact, burst, kinds)


if __name__ == "__main__":
    main(sys.argv[1:])
