"""Benchmark: the receive handler's warm time per request, and each handler module's cold import time.

Warm time: `functions.receive.app.lambda_handler` in-process on events/generic_signup.json (a typical
Zapier-sized JSON body), with SQS and Secrets Manager from moto in the same process, so each request
includes moto's in-memory SendMessage instead of a network round trip to SQS (real SQS adds a few ms).
The webhook secret is cached by Powertools Parameters after the first request, as in a warm Lambda.

Cold import: `import <module>` timed inside fresh interpreters (interpreter start-up excluded), interleaved
with a bare `import boto3` measured the same way in the same run; the figure is the median ratio. Bytecode caches
are present, as in the deployed layer, which ships its bytecode compiled (layers/relay/Makefile): a discarded
first round writes them, even under PYTHONDONTWRITEBYTECODE. Targets: receive <= 1.15x boto3, upsert <= 1.6x.
The receive module defers boto3, Powertools Parameters, the routes file (and with it pydantic) and the source
parsers to its first request, and loads neither Powertools' event handler package nor the X-Ray SDK. Upsert loads
boto3 and its msgspec models at import, pydantic never, and the X-Ray SDK only with DETAILED_TRACING=true.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WARM_REQUESTS = 500
COLD_RUNS = 7
MODULES = ("boto3", "functions.receive.app", "functions.upsert.app")
TARGETS = {"functions.receive.app": 1.15, "functions.upsert.app": 1.6}


def import_seconds(module: str) -> float:
    """Seconds to import `module` in a fresh interpreter (the import statement only)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
    return float(output.stdout.decode().strip().splitlines()[-1])


def cold_imports() -> dict[str, float]:
    """Median import seconds per module; the runs are interleaved so machine noise hits all alike."""
    samples: dict[str, list[float]] = {module: [] for module in MODULES}
    for module in MODULES:  # one discarded round: fills the OS page cache and the bytecode caches
        import_seconds(module)
    for _ in range(COLD_RUNS):
        for module in MODULES:
            samples[module].append(import_seconds(module))
    return {module: statistics.median(values) for module, values in samples.items()}


def warm_requests() -> tuple[list[float], list[float]]:
    """Seconds per warm receive request, and the part of each spent inside moto's SendMessage."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    from moto import mock_aws

    from local.aws_resources import (
        create_queues,
        demo_webhook_secrets,
        handler_environment,
        put_secret,
        reset_relay_caches,
    )
    from local.functions import LambdaContext

    event = json.loads((ROOT / "events" / "generic_signup.json").read_text())
    with mock_aws():
        resources = create_queues()
        put_secret(resources.webhook_secret_id, demo_webhook_secrets())
        os.environ.update(handler_environment(resources, cc_api_base_url="http://127.0.0.1:9/v3", cc_token_url=""))
        reset_relay_caches()
        from functions.receive import app
        from signup_relay.aws.queue import get_sqs_client
        from signup_relay.observability import logger

        # Log lines and EMF metrics are formatted as in Lambda, then written off-screen.
        logger.registered_handler.stream = io.StringIO()  # type: ignore[attr-defined]
        sqs_call: list[float] = []
        events = get_sqs_client().meta.events
        events.register("before-call.sqs.SendMessage", lambda **_: sqs_call.append(-time.perf_counter()))
        events.register("after-call.sqs.SendMessage", lambda **_: sqs_call.append(time.perf_counter()))

        context = LambdaContext(function_name="ReceiveFunction", aws_request_id="bench")
        totals, in_sqs = [], []
        for n in range(WARM_REQUESTS + 20):
            event["headers"]["idempotency-key"] = f"bench-{n}"  # a new delivery each time, not a duplicate
            sqs_call.clear()
            with contextlib.redirect_stdout(io.StringIO()):
                started = time.perf_counter()
                response = app.lambda_handler(event, context)
                elapsed = time.perf_counter() - started
            assert response["statusCode"] == 200, response
            if n >= 20:  # the first requests load boto3, the routes and the secret
                totals.append(elapsed)
                in_sqs.append(sum(sqs_call))
        reset_relay_caches()
    return totals, in_sqs


def main() -> None:
    totals, in_sqs = warm_requests()
    own = [total - sqs for total, sqs in zip(totals, in_sqs, strict=True)]
    print(f"receive warm request ({len(totals)} requests of events/generic_signup.json, moto in-process):")
    for label, values in (("whole request", totals), ("  of which moto SendMessage", in_sqs), ("handler alone", own)):
        p99 = statistics.quantiles(values, n=100)[98]
        print(f"  {label:<28} median {statistics.median(values) * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms")

    imports = cold_imports()
    baseline = imports["boto3"]
    print(f"cold import, median of {COLD_RUNS} fresh interpreters (ratio to a bare `import boto3`):")
    for module, seconds in imports.items():
        print(f"  {module:<24} {seconds * 1000:7.1f} ms   {seconds / baseline:4.2f}x")
    for module, target in TARGETS.items():
        ratio = imports[module] / baseline
        verdict = "meets" if ratio <= target else "MISSES"
        print(f"  {module} {verdict} the <= {target}x target ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
