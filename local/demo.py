"""`make demo`: start the local stack, send every events/ sample through real HTTP, print what happened.

Exits non-zero when an HTTP status or an outcome differs from events/expected.json (a sample without an entry,
or an entry without a sample, is a mismatch too), or when the stack does not start. The stack runs as a
subprocess on a free port; its logs (`make dev`'s readable lines) go to .local-state/demo-stack.log. While the
queue drains it prints a progress line each time the counts change, and it ends with what to try next.

The embedded sandbox starts as a lived-in account (events/sandbox_seed.json via LOCAL_SANDBOX_SEED): a soft-deleted
contact, two who unsubscribed themselves and an active one with fields no form sends, so the table shows revived,
kept_unsubscribed, resubscribed, updated and rejected next to created. Against CC_API_BASE_URL nothing is seeded.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.events.build import load_event
from local.events.paths import SEED_FILE
from local.sandbox_seed import SEED_ENV

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
EXPECTED_FILE = EVENTS_DIR / "expected.json"
LOG_FILE = ROOT / ".local-state" / "demo-stack.log"
START_TIMEOUT = 60.0
DRAIN_TIMEOUT = 240.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def send(base_url: str, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST the event's body and headers to its path (and query) on the stack; the status and JSON answer."""
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    query = event.get("rawQueryString") or ""
    url = f"{base_url}{event['rawPath']}" + (f"?{query}" if query else "")
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in ("host", "content-length")}
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"raw": raw[:200].decode("utf-8", "replace")}


def start_stack(port: int) -> subprocess.Popen[bytes]:
    LOG_FILE.parent.mkdir(exist_ok=True)
    env = {**os.environ, "PORT": str(port)}
    if not env.get("CC_API_BASE_URL"):  # the embedded sandbox: start it as the demo account
        env[SEED_ENV] = str(SEED_FILE)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "layers" / "relay"), str(ROOT), env.get("PYTHONPATH")])
    )
    log = LOG_FILE.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the local stack exited with {process.returncode}; see {LOG_FILE}")
        try:
            get_json(f"http://127.0.0.1:{port}/_local/status")
            return process
        except (OSError, ValueError):
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"the local stack did not start within {START_TIMEOUT:.0f}s; see {LOG_FILE}")


def progress(status: dict[str, Any], accepted: set[str]) -> str:
    """One line: accepted sign-ups with a final outcome, the queue, and the outcome counts so far."""
    results = status["results"]
    done = sum(1 for key in accepted if results.get(key, {}).get("outcome") not in (None, "deferred"))
    counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(status["outcomes"].items()))
    queue = status["queue"]
    return (
        f"  {done}/{len(accepted)} sign-ups processed; queued {queue['visible']}, in flight {queue['in_flight']}; "
        f"{counts or 'no outcome yet'}"
    )


def wait_until_drained(status_url: str, accepted: set[str] | None = None) -> dict[str, Any]:
    """The status once the queue has been empty and idle for two polls in a row (retries included); with the
    `accepted` ids, a progress line each time it changes."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    idle = 0
    status = get_json(status_url)
    shown = ""
    while time.monotonic() < deadline:
        if accepted is not None and (line := progress(status, accepted)) != shown:
            print(line, flush=True)
            shown = line
        idle = idle + 1 if status["drained"] else 0
        if idle >= 2:
            return status
        time.sleep(0.5)
        status = get_json(status_url)
    print(f"warning: the queue did not drain within {DRAIN_TIMEOUT:.0f}s", file=sys.stderr)
    return status


def main() -> int:
    expected: dict[str, dict[str, Any]] = json.loads(EXPECTED_FILE.read_text())
    not_events = {EXPECTED_FILE.name, SEED_FILE.name}
    files = sorted(p.name for p in EVENTS_DIR.glob("*.json") if p.name not in not_events)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_stack(port)
    try:
        print(f"local stack on {base_url} (logs: {LOG_FILE.relative_to(ROOT)}); sending {len(files)} events")
        answers: dict[str, tuple[int, dict[str, Any]]] = {}
        for name in files:
            answers[name] = send(base_url, load_event(name, fresh=True, host=f"127.0.0.1:{port}"))
        accepted = {str(body.get("id")) for http_status, body in answers.values() if http_status == 200}
        print(f"{len(accepted)} sign-ups accepted and queued; the upsert side is processing them:", flush=True)
        status = wait_until_drained(f"{base_url}/_local/status", accepted)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

    results: dict[str, dict[str, Any]] = status["results"]
    rows, failures = [], 0
    for name in files:
        http_status, body = answers[name]
        result = results.get(body.get("id", ""), {}) if http_status == 200 else {}
        outcome = result.get("outcome") or ("pending" if http_status == 200 else body.get("error", ""))
        want = expected.get(name)
        ok = (
            want is not None
            and want.get("status") == http_status
            and ("outcome" not in want or want["outcome"] == result.get("outcome"))
        )
        failures += not ok
        wanted = "no entry in expected.json" if want is None else f"{want.get('status')} {want.get('outcome', '')}"
        rows.append((name, str(http_status), outcome, result.get("contact_id") or "", "ok" if ok else f"want {wanted}"))

    widths = [max(len(row[i]) for row in [*rows, ("event", "http", "outcome", "contact id", "")]) for i in range(5)]
    header = ("event", "http", "outcome", "contact id", "check")
    print("  ".join(title.ljust(width) for title, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    dlq = status["dlq"]["records"]
    counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(status["outcomes"].items()))
    print(f"\noutcomes: {counts or 'none'}; DLQ records: {len(dlq)}")
    for record in dlq:
        where = f"{record.get('stage', 'redriven')}/{record.get('route', '')}"
        reason = f" - {record.get('message', '')}" if record.get("stage") == "upsert" else ""
        print(f"  DLQ {where}: {record.get('error_class', '')}{reason}")
    print(f"{len(rows) - failures}/{len(rows)} as expected")
    orphans = sorted(set(expected) - set(files))
    for name in orphans:
        print(f"expected.json names {name}, which is not in events/", file=sys.stderr)
    print(NEXT_STEPS)
    return 1 if failures or orphans or not rows else 0


CAPTURE = "tests/fixtures/real/unbounce/test-webhook-email.urlencoded"
NEXT_STEPS = "\n".join(
    [
        "",
        'What to try next (README "Local run"; its walkthrough takes a Typeform capture through a broken mapping):',
        "  make dev        # this stack on http://127.0.0.1:3000, with readable logs; then, in another terminal:",
        f"  make preview ROUTE=unbounce-landing FILE={CAPTURE}   # the contact it would become",
        f"  make send ROUTE=unbounce-landing FILE={CAPTURE}      # deliver it",
        "  curl -s 'http://127.0.0.1:3000/_local/contacts?email=test@snowplowanalytics.com'   # the stored contact",
        "  curl -s http://127.0.0.1:3000/_local/dlq    # what was kept, and why (a deployed stack: make dlq)",
        "  make recent     # a deployed stack: the last sign-ups, their outcomes and reasons",
    ]
)


if __name__ == "__main__":
    sys.exit(main())
