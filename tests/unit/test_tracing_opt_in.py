"""The X-Ray SDK (Powertools Tracer) is loaded only when the operator asks for detailed tracing."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import functions.upsert.app, functions.token_refresh.app
from signup_relay.observability import traced
calls = []
probe = traced(lambda: calls.append(1) or "done")
assert probe() == "done" and calls == [1]
print("xray" if any(name.startswith("aws_xray_sdk") for name in sys.modules) else "no-xray")
"""


def _run(detailed_tracing: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DETAILED_TRACING"}
    if detailed_tracing is not None:
        env["DETAILED_TRACING"] = detailed_tracing
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])
    env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon here: the Tracer wraps but sends nothing
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_by_default_the_handlers_run_without_the_xray_sdk():
    assert _run(None) == "no-xray"
    assert _run("false") == "no-xray"


def test_detailed_tracing_wraps_with_the_powertools_tracer():
    assert _run("true") == "xray"


RECORD_PROBE = """
from functions.upsert import app

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "UpsertFunction", 128, "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:UpsertFunction"

record = {"messageId": "m-1", "receiptHandle": "h", "body": "not a queued sign-up",
          "attributes": {"MessageGroupId": "g", "ApproximateReceiveCount": "1"}}
print(app.lambda_handler({"Records": [record]}, Context()))
"""


def _subsegments_sent(detailed_tracing: str) -> tuple[str, list[dict[str, object]]]:
    """Run one upsert batch in a Lambda-like process whose X-Ray daemon is a local UDP socket; what it received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "DETAILED_"))}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)]),
                "DETAILED_TRACING": detailed_tracing,
                "LAMBDA_TASK_ROOT": str(ROOT),  # the X-Ray SDK's Lambda mode: a facade segment from _X_AMZN_TRACE_ID
                "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",  # no credentials at all: the DLQ write fails at once
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_CONFIG_FILE": os.devnull,
                "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo",
                "DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq.fifo",
            }
        )
        run = subprocess.run([sys.executable, "-c", RECORD_PROBE], env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        documents = []
        with contextlib.suppress(TimeoutError):
            while True:
                _, _, document = daemon.recv(65_535).decode().partition("\n")  # a header line, then the document
                documents.append(json.loads(document))
    return run.stdout, documents


def test_detailed_tracing_sends_the_handler_record_and_aws_call_subsegments_to_xray():
    # Given detailed tracing on, in Lambda's X-Ray mode with a local daemon
    # When the upsert handler gets a record it cannot read (its DLQ write then fails: no credentials)
    output, documents = _subsegments_sent("true")
    # Then the item fails for a retry, and the trace shows the handler, the record and the SQS call, with the error
    assert "{'batchItemFailures': [{'itemIdentifier': 'm-1'}]}" in output
    by_name = {document["name"]: document for document in documents}
    assert by_name["## lambda_handler"]["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert by_name["## lambda_handler"]["annotations"] == {"ColdStart": True, "Service": "signup-relay"}
    record = by_name["## functions.upsert.app.record_handler"]
    assert record["parent_id"] == by_name["## lambda_handler"]["id"] and record["fault"] is True
    assert by_name["sqs"]["aws"]["operation"] == "SendMessage" and by_name["sqs"]["parent_id"] == record["id"]


def test_without_detailed_tracing_nothing_is_sent_to_xray():
    # Given detailed tracing off / When the same batch runs / Then the item fails the same way and no subsegment
    output, documents = _subsegments_sent("false")
    assert "{'batchItemFailures': [{'itemIdentifier': 'm-1'}]}" in output
    assert documents == []
