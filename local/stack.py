"""`make dev`: the whole stack on 127.0.0.1 with no Docker, no AWS and no internet.

The template's routes and handlers in-process, moto for SQS and Secrets Manager, the embedded sandbox (or the
Constant Contact at CC_API_BASE_URL), a poller feeding the upsert handler, and /_local/status and /_local/dlq:
local/README.md describes each; local/stack_config.py reads and checks the environment.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from local import sandbox_seed, stack_config
from local.gateway import ACCOUNT_ID, GatewayRefusal, api_gateway_event, gateway_answer, read_body
from local.template import HttpRoute, http_routes, mapping_schedules, scheduled_functions, sqs_consumers

if TYPE_CHECKING:
    from signup_relay.ops.dlq.selection import Selection

REGION = "us-east-1"
SERVICE_LOGGER = "signup-relay"  # the Powertools Logger's stdlib logger (signup_relay.observability.SERVICE)
# A client that stops sending mid-request does not hold a server thread for ever.
READ_TIMEOUT_SECONDS = 10
CC_ENV = ("CC_API_BASE_URL", "CC_TOKEN_URL", "CC_CLIENT_ID", "CC_CLIENT_SECRET", "CC_ACCESS_TOKEN", "CC_REFRESH_TOKEN")
# With CC_API_BASE_URL: the V2 API and the pair the V2 routes' accounts get (the embedded sandbox has its own).
CC_V2_ENV = ("CC_V2_API_BASE_URL", "CC_V2_API_KEY", "CC_V2_ACCESS_TOKEN")
# Upsert "containers" the poller runs. One: the handler's module state (its batch processor) serves one invocation
# at a time, as in Lambda. The handlers see UPSERT_MAX_CONCURRENCY=1, so this one container paces itself to the
# whole CC_RATE_LIMIT_PER_SECOND, as the deployed ones share it UpsertMaxConcurrency ways (the limit is per API key:
# https://developer.constantcontact.com/api_guide/rate_limits.html).
UPSERT_CONTAINERS = 1

Handler = Callable[[dict[str, Any], Any], Any]
JSON = {"content-type": "application/json"}


@dataclass
class LambdaContext:
    """What a handler reads from the Lambda context."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 20

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """A handler imported from its module, invoked one event at a time (one warm container)."""

    def __init__(self, logical_id: str, module: str, handler: str, timeout_seconds: int = 20) -> None:
        self.name = logical_id
        self.handler: Handler = getattr(importlib.import_module(module), handler)
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        from local import console_log  # imports signup_relay: after the stack has set the handlers' environment

        with self._lock, console_log.invoking(self.name):
            context = LambdaContext(
                function_name=self.name, aws_request_id=str(uuid.uuid4()), timeout_seconds=self.timeout_seconds
            )
            return self.handler(event, context)


class OutcomeRecorder(logging.Handler):
    """Reads outcomes off the service's own structured log lines (the same ones CloudWatch gets)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.results: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        queued_id = getattr(record, "queued_id", None)
        outcome = getattr(record, "outcome", None)
        if not queued_id or not outcome:
            return
        with self._lock:
            self.counts[outcome] += 1
            self.results[queued_id] = {
                "outcome": outcome,
                "contact_id": getattr(record, "contact_id", None),
                "route": getattr(record, "route", None),
                "error_class": getattr(record, "error_class", None),
                "attempts": getattr(record, "attempts", None),
                "path": getattr(record, "path", None),  # "imported" / "merged" when the burst drain applied it
            }

    def snapshot(self) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
        with self._lock:
            return dict(self.counts), {key: dict(value) for key, value in self.results.items()}


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for a batch of received messages."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", ""),
                    "SenderId": attributes.get("SenderId", ACCOUNT_ID),
                    "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", ""),
                    "SequenceNumber": attributes.get("SequenceNumber", ""),
                    "MessageGroupId": attributes.get("MessageGroupId", ""),
                    "MessageDeduplicationId": attributes.get("MessageDeduplicationId", ""),
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


class LocalStack:
    """The stack in this process. `with LocalStack(port=0) as stack: ...` or `.start()` / `.stop()`."""

    def __init__(
        self,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        visibility_timeout: int = 2,
        poll_interval: float = 0.2,
        token_refresh_interval: float = 60.0,
        constant_contact_env: dict[str, str] | None = None,
        routes_file: str | os.PathLike[str] | None = None,
        webhook_secrets: dict[str, str] | None = None,
        burst_interval: float = 60.0,
        burst_threshold: int | None = None,
    ) -> None:
        """Reads and validates its configuration now (LocalConfigError) so a bad one fails before anything runs.

        `constant_contact_env` replaces os.environ for the CC_* names ({} = the embedded sandbox); `routes_file`
        replaces ROUTES_FILE; `webhook_secrets` replaces LOCAL_WEBHOOK_SECRETS (see local/stack_config.py).
        The burst drain runs every `burst_interval` seconds, as its schedule does deployed; `burst_threshold`
        replaces the template's BurstThreshold (0 = burst mode off).
        """
        self.host = host
        self.requested_port = port
        self.visibility_timeout = visibility_timeout
        self.poll_interval = poll_interval
        self.token_refresh_interval = token_refresh_interval
        self.burst_interval = burst_interval
        self.burst_threshold = burst_threshold
        self.drain_reports: list[dict[str, Any]] = []
        self._draining = threading.Event()
        self._consume_lock = threading.Lock()
        self._drain_waiting = threading.Event()
        # Read before anything else changes the environment (the handlers' CC_API_BASE_URL is set below).
        source = os.environ if constant_contact_env is None else constant_contact_env
        self._cc_env = {name: source[name] for name in CC_ENV if source.get(name)}
        self._cc_v2_env = {name: source[name] for name in CC_V2_ENV if source.get(name)}
        self.external_cc = stack_config.constant_contact_env(self._cc_env)
        self.sandbox_seed = sandbox_seed.seed_from_env(os.environ, external_account=self.external_cc is not None)
        self.routes_file = (
            Path(routes_file).resolve() if routes_file is not None else stack_config.routes_file(os.environ)
        )
        stack_config.load_local_routes(self.routes_file)  # validated before anything starts
        self._secret_overrides = (
            dict(webhook_secrets) if webhook_secrets is not None else stack_config.secret_overrides(os.environ)
        )
        self.route_secrets: list[stack_config.RouteSecret] = []
        self.unused_secret_overrides: list[str] = []
        self.recorder = OutcomeRecorder()
        self.sandbox: Any = None
        self.cc_api_base_url = ""
        self._saved_env: dict[str, str] = {}
        self._mock: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._busy = threading.Event()
        self._state_lock = threading.Lock()
        self.routes: list[HttpRoute] = []
        self.functions: dict[str, LocalFunction] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the stack is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalStack:
        from moto import mock_aws

        self._saved_env = dict(os.environ)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        self._mock = mock_aws()
        self._mock.start()
        try:
            self._provision()
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _provision(self) -> None:
        import boto3

        from local.aws_resources import (
            constant_contact_secret,
            create_resources,
            handler_environment,
            put_secret,
            reset_relay_caches,
        )

        self.resources = create_resources(visibility_timeout=self.visibility_timeout)
        self._sqs = boto3.client("sqs")

        v2_base_url = self._cc_v2_env.get("CC_V2_API_BASE_URL")
        v2_pair = (self._cc_v2_env.get("CC_V2_API_KEY", ""), self._cc_v2_env.get("CC_V2_ACCESS_TOKEN", ""))
        if (external := self.external_cc) is not None:
            self.cc_api_base_url, token_url = external.api_base_url, external.token_url
            secret = constant_contact_secret(
                client_id=external.client_id,
                client_secret=external.client_secret,
                access_token=external.access_token,
                refresh_token=external.refresh_token,
                # An unknown lifetime: assume a day; a placeholder token is due for refresh at once.
                expires_in=0 if external.access_token == stack_config.NO_ACCESS_TOKEN else 86_400,
            )
        else:
            from local.cc_sandbox import Sandbox

            # An empty account, like a newly connected one: the routes' create_missing_* settings decide what
            # happens to lists and custom fields that do not exist yet (the demo routes create them).
            self.sandbox = Sandbox(
                port=0, client_id=self._cc_env.get("CC_CLIENT_ID"), client_secret=self._cc_env.get("CC_CLIENT_SECRET")
            ).start()
            if self.sandbox_seed is not None:  # an account that looks lived in (LOCAL_SANDBOX_SEED)
                sandbox_seed.apply_seed(self.sandbox, self.sandbox_seed)
            self.cc_api_base_url, token_url = self.sandbox.base_url, self.sandbox.token_url
            v2_base_url, v2_pair = self.sandbox.v2_base_url, (self.sandbox.v2_api_key, self.sandbox.v2_access_token)
            tokens = self.sandbox.issue_tokens()
            secret = constant_contact_secret(
                client_id=self.sandbox.client_id,
                client_secret=self.sandbox.client_secret,
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                expires_in=int(tokens.get("expires_in", 86_400)),
            )

        environment = handler_environment(
            self.resources,
            cc_api_base_url=self.cc_api_base_url,
            cc_token_url=token_url or "",
            routes_file=self.routes_file,
            cc_v2_api_base_url=v2_base_url,
        )
        environment["UPSERT_MAX_CONCURRENCY"] = str(UPSERT_CONTAINERS)
        if self.burst_threshold is not None:
            environment["BURST_THRESHOLD"] = str(self.burst_threshold)
        os.environ.update(environment)
        # No function to invoke here: upsert gets the in-process single writer (tokens.refreshers.LocalRefresher).
        os.environ.pop("TOKEN_REFRESH_FUNCTION", None)
        reset_relay_caches()

        # Secrets where the handlers look for them: each route's webhook secret, and the Constant Contact
        # secret under CC_SECRET_ID and every account a route names (one local account behind them all).
        from signup_relay.routes import get_routes

        routes = get_routes()
        self.route_secrets = stack_config.route_secrets(routes, self._secret_overrides, stack_config.demo_secrets())
        self.unused_secret_overrides = stack_config.unused_overrides(routes, self._secret_overrides)
        for secret_id, values in stack_config.secrets_by_id(self.route_secrets).items():
            put_secret(secret_id, values)
        accounts = {self.resources.cc_secret_id} | {r.account for r in routes.routes.values() if r.account}
        # The accounts of `api: v2` routes get the V2 pair, with CC_SECRET_ID as the V3 app of the same account.
        v2_accounts = {r.account for r in routes.routes.values() if r.api == "v2" and r.account} - {
            self.resources.cc_secret_id
        }
        for account in sorted(accounts):
            if account in v2_accounts and all(v2_pair):
                cc_secret_id = self.resources.cc_secret_id
                put_secret(account, local_v2_secret(account, *v2_pair, cc_secret_id=cc_secret_id))
            else:
                put_secret(account, secret)

        logging.getLogger(SERVICE_LOGGER).addHandler(self.recorder)
        self.routes = http_routes()
        for route in self.routes:
            self.functions.setdefault(route.function, LocalFunction(route.function, route.module, route.handler))
        self.consumers = sqs_consumers()
        for consumer in self.consumers:
            self.functions.setdefault(
                consumer.function, LocalFunction(consumer.function, consumer.module, consumer.handler)
            )
        self.scheduled = scheduled_functions()  # ScheduleV2 functions: the burst drain (docs/architecture.md §11)
        for scheduled in self.scheduled:
            self.functions.setdefault(
                scheduled.function,
                LocalFunction(scheduled.function, scheduled.module, scheduled.handler, scheduled.timeout_seconds),
            )
        # The consumers' event source mappings in moto (the quota breaker switches them off) and the schedules that
        # switch them on again (docs/architecture.md §12).
        from local.aws_resources import create_event_source_mappings

        self._lambda = boto3.client("lambda")
        self.mappings = create_event_source_mappings(self.resources)
        self.schedules = mapping_schedules()

    def _serve(self) -> None:
        stack = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            default_request_version = "HTTP/1.1"  # even a garbled request line gets a status line back
            timeout = READ_TIMEOUT_SECONDS

            def __getattr__(self, name: str) -> Any:
                # Every method reaches the routes (do_GET, do_DELETE, do_PATCH, do_FOO...): API Gateway answers
                # a method no route has with its JSON 404, not the stdlib's HTML 501.
                if name.startswith("do_"):
                    return lambda: stack._http(self, name[3:])
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # The stdlib's own refusals (a malformed request line, overlong headers) as API Gateway's JSON.
                stack._reply(self, code, JSON, gateway_answer(code), close=True)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass  # the handlers log each request themselves

        self._server = ThreadingHTTPServer((self.host, self.requested_port), RequestHandler)
        self._server.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="local-http", daemon=True),
            threading.Thread(target=self._poll, name="local-poller", daemon=True),
            threading.Thread(target=self._refresh_tokens_on_schedule, name="local-token-refresh", daemon=True),
            threading.Thread(target=self._run_mapping_schedules, name="local-mapping-schedules", daemon=True),
            *(
                threading.Thread(target=self._run_on_schedule, args=(s.function,), name="local-schedule", daemon=True)
                for s in self.scheduled
            ),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        logging.getLogger(SERVICE_LOGGER).removeHandler(self.recorder)
        if self.sandbox is not None:
            self.sandbox.stop()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._saved_env:
            os.environ.clear()
            os.environ.update(self._saved_env)
            self._saved_env = {}

    # --- HTTP --------------------------------------------------------------------------------

    def _http(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(request.path).path
        try:
            body = read_body(request)  # read whatever the route, so the connection can take the next request
        except GatewayRefusal as refusal:
            self._reply(request, refusal.status, JSON, gateway_answer(refusal.status), close=True)
            return
        if method == "GET" and path == "/_local/status":
            self._reply(request, 200, JSON, json.dumps(self.status()).encode())
            return
        if path in ("/_local/dlq", "/_local/dlq/replay"):
            self._dlq_endpoint(request, method, path, body)
            return
        if path.startswith(("/_local/preview/", "/_local/contacts")):
            self._peek_endpoint(request, method, path, body)
            return
        route = next((r for r in self.routes if r.match(method, path) is not None), None)
        if route is None:
            self._reply(request, 404, JSON, gateway_answer(404))
            return
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event = api_gateway_event(route, method, request.path, headers, body, request.client_address[0])
        try:
            result = self.functions[route.function].invoke(event)
        except Exception as error:  # what API Gateway answers when the function itself fails
            print(f"[local] {route.function} raised {type(error).__name__}: {error}", file=sys.stderr)
            self._reply(request, 500, JSON, gateway_answer(500))
            return
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
        self._reply(request, int(result.get("statusCode", 200)), dict(result.get("headers") or {}), payload)

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes, *, close: bool = False
    ) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        if close:
            request.send_header("connection", "close")
            request.close_connection = True
        request.end_headers()
        if getattr(request, "command", None) != "HEAD":  # a HEAD answer has the headers of a GET, no body
            request.wfile.write(body)

    # --- queue -> upsert ---------------------------------------------------------------------

    def _poll(self) -> None:
        consumer = self.consumers[0]
        url = self.resources.queue_url
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        function = self.functions[consumer.function]
        while not self._stopping.is_set():
            if self._drain_waiting.is_set():  # let the scheduled drain in between two batches
                self._stopping.wait(0.01)
                continue
            try:
                if not self.consumer_enabled(consumer.logical_id):  # Lambda polls only an enabled mapping
                    self._stopping.wait(self.poll_interval)
                    continue
                with self._consume_lock:
                    with self._state_lock:
                        messages = self._sqs.receive_message(
                            QueueUrl=url,
                            MaxNumberOfMessages=consumer.batch_size,
                            MessageSystemAttributeNames=["All"],
                        ).get("Messages", [])
                        if messages:
                            self._busy.set()
                    if messages:
                        self._deliver(function, messages, url, arn)
                if not messages:
                    self._stopping.wait(self.poll_interval)
                    continue
            except Exception as error:  # keep polling: a local stack should survive a bad batch
                print(f"[local] poller: {type(error).__name__}: {error}", file=sys.stderr)
                self._stopping.wait(1)
            finally:
                self._busy.clear()

    def _deliver(self, function: LocalFunction, messages: list[dict[str, Any]], url: str, arn: str) -> None:
        try:
            response = function.invoke(sqs_event(messages, arn)) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception as error:  # a function error returns the whole batch to the queue
            print(f"[local] {function.name} raised {type(error).__name__}: {error}", file=sys.stderr)
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def consumer_enabled(self, mapping: str) -> bool:
        from local.aws_resources import mapping_state

        return mapping_state(self.mappings[mapping], client=self._lambda) == "Enabled"

    # --- schedules ---------------------------------------------------------------------------

    def constant_contact_now(self) -> datetime:
        """The clock of the Constant Contact in use: the embedded sandbox's (tests move it), else the wall clock."""
        return self.sandbox.clock.now() if self.sandbox is not None else datetime.now(UTC)

    def _run_mapping_schedules(self) -> None:
        """The template's mapping schedules (the quota breaker's re-enable), run at their UTC time of the Constant
        Contact clock, as EventBridge Scheduler runs them at the real one."""
        from local.aws_resources import run_mapping_schedule
        from signup_relay.aws.quota_breaker import get_quota_breaker

        due = {schedule: schedule.next_run(self.constant_contact_now()) for schedule in self.schedules}
        while not self._stopping.wait(self.poll_interval):
            now = self.constant_contact_now()
            for schedule, at in due.items():
                if now < at:
                    continue
                due[schedule] = schedule.next_run(now)
                try:
                    with self._state_lock:
                        run_mapping_schedule(schedule, self.mappings, client=self._lambda)
                        # A deployed container's breaker closes at the reset by its own clock; the in-process one
                        # runs on the wall clock, which did not jump with the sandbox's: start it afresh.
                        get_quota_breaker.cache_clear()  # type: ignore[attr-defined]  # per_container: an lru_cache
                except Exception as error:  # keep the schedule alive, as EventBridge would
                    print(f"[local] {schedule.logical_id}: {type(error).__name__}: {error}", file=sys.stderr)

    def quota_breaker_status(self) -> dict[str, Any]:
        """The consumers' switch and the next reset, for /_local/status."""
        from local.aws_resources import mapping_state

        now = self.constant_contact_now()
        return {
            "consumers": {name: mapping_state(uuid, client=self._lambda) for name, uuid in self.mappings.items()},
            "open": not all(self.consumer_enabled(name) for name in self.mappings),
            "constant_contact_time": now.isoformat(),
            "next_reset": min((s.next_run(now).isoformat() for s in self.schedules), default=None),
        }

    # --- tokens ------------------------------------------------------------------------------

    def _refresh_tokens_on_schedule(self) -> None:
        """The deployed EventBridge schedule, in-process: the single writer's scheduled check, once a minute."""
        from signup_relay.tokens.refresh_function import run_token_refresh

        while not self._stopping.wait(self.token_refresh_interval):
            try:
                run_token_refresh({"mode": "scheduled"})
            except Exception as error:  # keep the schedule alive; the next run retries, as EventBridge would
                print(f"[local] scheduled token refresh: {type(error).__name__}: {error}", file=sys.stderr)

    @contextlib.contextmanager
    def consumers_paused(self) -> Iterator[None]:
        """Hold the poller and the burst drain while the block runs (a burst arriving all at once)."""
        with self._consume_lock:
            yield

    def _run_on_schedule(self, function_name: str) -> None:
        """A ScheduleV2 event (the burst drain's backlog check), in-process every `burst_interval` seconds."""
        function = self.functions[function_name]
        while not self._stopping.wait(self.burst_interval):
            try:
                # One consumer at a time: the local queue's visibility is cut to seconds, so a batch the poller is
                # still working on could otherwise be received again by the drain (deployed: 360 s).
                self._drain_waiting.set()
                with self._consume_lock:
                    self._drain_waiting.clear()
                    self._draining.set()
                    report = function.invoke({"source": "aws.scheduler"})
                if isinstance(report, dict) and report.get("received"):
                    self.drain_reports.append(report)
            except Exception as error:  # the next run tries again, as the scheduler would
                print(f"[local] {function_name}: {type(error).__name__}: {error}", file=sys.stderr)
            finally:
                self._drain_waiting.clear()
                self._draining.clear()

    # --- status ------------------------------------------------------------------------------

    def queue_depth(self) -> dict[str, int]:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def dlq_messages(self) -> list[dict[str, Any]]:
        """Every DLQ message decoded (FailureRecord JSON, or a bare redriven QueuedSignup), left in the DLQ."""
        from local.aws_resources import peek_messages

        with self._state_lock:
            messages = peek_messages(self.resources.dlq_url, client=self._sqs)
        records = []
        for message in messages:
            try:
                records.append(json.loads(message["Body"]))
            except ValueError:
                records.append({"undecodable": message["Body"][:200]})
        return records

    def status(self) -> dict[str, Any]:
        """GET /_local/status. A stable shape: keys may be added, never renamed or removed.

        {
          "url": "http://127.0.0.1:3000",
          "constant_contact": "<V3 base URL in use>",
          "drained": true,               # queue empty (visible and in flight) and no batch being processed
          "queue": {"visible": 0, "in_flight": 0, "busy": false},
          "dlq": {"records": [...]},     # every DLQ message decoded: FailureRecord JSON (stage, route,
                                         # error_class, message, attempts, ...), or a redriven QueuedSignup
          "quota_breaker": {"open": false, "consumers": {"UpsertEventSourceMapping": "Enabled"},
                            "constant_contact_time": "...", "next_reset": "..."},  # docs/architecture.md §12
          "outcomes": {"created": 1},    # count per outcome (created, updated, revived, resubscribed,
                                         # kept_unsubscribed, rejected, deferred), one per upsert attempt
          "results": {"<id>": {"outcome", "contact_id", "route", "error_class", "attempts"}},
          "burst": {"runs": [...]}       # each burst drain run that received sign-ups (docs/architecture.md §11)
        }
        `<id>` is the `id` that POST /hooks/{route} answered; its entry is the latest attempt's result.
        """
        counts, results = self.recorder.snapshot()
        depth = self.queue_depth()
        busy = self._busy.is_set() or self._draining.is_set()
        return {
            "url": self.url,
            "constant_contact": self.cc_api_base_url,
            "drained": depth["visible"] == 0 and depth["in_flight"] == 0 and not busy,
            "queue": {**depth, "busy": busy},
            "dlq": {"records": self.dlq_messages()},
            "quota_breaker": self.quota_breaker_status(),
            "outcomes": counts,
            "results": results,
            "burst": {"runs": list(self.drain_reports)},
        }

    def _dlq_endpoint(self, request: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        """GET /_local/dlq: the `dlq list --json` shape. POST /_local/dlq/replay with a JSON body
        {"route", "error_class", "id" (one or a list), "dry_run"}: the `dlq replay --json` shape; receive-stage
        records are re-parsed with the routes file as it is now."""
        from signup_relay.aws.dead_letter_reader import DeadLetterReader
        from signup_relay.aws.dead_letters import DeadLetterQueue
        from signup_relay.aws.queue import SignupQueue
        from signup_relay.config import get_settings
        from signup_relay.errors import ConfigError
        from signup_relay.ops.dlq.replay import replay_dead_letters
        from signup_relay.ops.dlq.selection import list_dead_letters
        from signup_relay.routes import load_routes

        reader = DeadLetterReader(url=self.resources.dlq_url, client=self._sqs, visibility_timeout=30)
        status, payload = 405, {"message": "Method Not Allowed"}
        try:
            if (method, path) == ("GET", "/_local/dlq"):
                with self._state_lock:  # not while /_local/status holds the records
                    status, payload = 200, list_dead_letters(reader).to_json()
            elif (method, path) == ("POST", "/_local/dlq/replay"):
                data = json.loads(body) if body else {}
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                routes_file = get_settings().routes_file
                with self._state_lock:
                    report = replay_dead_letters(
                        reader,
                        queue=SignupQueue(url=self.resources.queue_url, client=self._sqs),
                        dlq=DeadLetterQueue(url=self.resources.dlq_url, client=self._sqs),
                        load_routes=lambda: load_routes(routes_file),
                        selection=dlq_selection(data),
                        dry_run=bool(data.get("dry_run")),
                    )
                status, payload = 200, report.to_json()
        except (ValueError, ConfigError) as error:
            status, payload = 400, {"error": error.message if isinstance(error, ConfigError) else str(error)}
        self._reply(request, status, JSON, json.dumps(payload).encode())

    def _peek_endpoint(self, request: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        """POST /_local/preview/{route} and GET /_local/contacts?email= (local/peek.py)."""
        from local import peek
        from signup_relay.models import RawRequest

        split = urlsplit(request.path)
        if method == "POST" and path.startswith("/_local/preview/"):
            route_name = path.removeprefix("/_local/preview/")
            headers = {name.lower(): value for name, value in request.headers.items()}
            raw = RawRequest(
                method="POST",
                path=f"/hooks/{route_name}",  # what a sender signs (HubSpot's URI)
                headers=headers,
                query=dict(parse_qsl(split.query)),
                raw_query=split.query,
                body=body,
                source_ip=request.client_address[0],
            )
            status, payload = peek.preview_delivery(route_name, raw)
        elif method == "GET" and path == "/_local/contacts":
            status, payload = peek.stored_contacts(dict(parse_qsl(split.query)).get("email", ""))
        else:
            status, payload = 405, {"message": "Method Not Allowed"}
        self._reply(request, status, JSON, json.dumps(payload).encode())

    def sandbox_access_token(self) -> str:
        """The embedded sandbox's current access token, as the stack's secret holds it."""
        import boto3

        from signup_relay.config import get_settings

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=get_settings().cc_secret_id)
        return str(json.loads(secret["SecretString"])["access_token"])

    def drained(self) -> bool:
        depth = self.queue_depth()
        busy = self._busy.is_set() or self._draining.is_set()
        return depth["visible"] == 0 and depth["in_flight"] == 0 and not busy


def local_v2_secret(account: str, api_key: str, access_token: str, *, cc_secret_id: str) -> dict[str, Any]:
    """A V2 account's secret as `connect --api v2` writes it, CC_SECRET_ID its V3 app (docs/architecture.md §10)."""
    from signup_relay.ops.connect_v2 import V2ConnectOptions, v2_secret

    options = V2ConnectOptions(
        secret_id=account,
        api_key=api_key,
        access_token=access_token,
        base_url="",
        cc_secret_id=cc_secret_id,
        v3_account=cc_secret_id,
    )
    return v2_secret(options, connected_at=time.time())


def dlq_selection(data: Mapping[str, Any]) -> Selection:
    """The records a POST /_local/dlq/replay body selects: {"route", "error_class", "id" (one or a list)}."""
    from signup_relay.ops.dlq.selection import Selection

    ids = data.get("id") or data.get("ids") or ()
    return Selection(
        route=data.get("route") or None,
        error_class=data.get("error_class") or None,
        ids=(ids,) if isinstance(ids, str) else tuple(str(i) for i in ids),
    )


def main() -> int:
    """`make dev`: exit 0 after SIGINT/SIGTERM, 2 for a configuration error, 1 when the port is taken."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    from local import console_log

    console_log.install()  # readable lines on this console; the deployed functions keep JSON
    try:
        port = int(os.environ.get("PORT", "").strip() or 3000)
        stack = LocalStack(port=port)
    except ValueError as error:  # LocalConfigError, a bad PORT
        print(f"signup-relay local stack: configuration error: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        stack.start()
    except OSError as error:
        print(f"signup-relay local stack: cannot listen on 127.0.0.1:{port}: {error}", file=sys.stderr, flush=True)
        return 1
    try:
        print_banner(stack)
        stop.wait()
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


def print_banner(stack: LocalStack) -> None:
    """The URL, each route with its sender and where its webhook secret came from (values only for defaults)."""
    print(f"signup-relay local stack: {stack.url}", flush=True)
    print(f"  routes file: {stack.routes_file}")
    for route in stack.routes:
        print(f"  {route.route_key:<24} -> {route.function} ({route.module})")
    sources = {secret.route: secret for secret in stack.route_secrets}
    from signup_relay.routes import get_routes

    for name, route_config in get_routes().routes.items():
        where = sources[name].describe() if name in sources else "no secret"
        print(f"  POST {stack.url}/hooks/{name}  [{route_config.source}; {where}]")
    for key in stack.unused_secret_overrides:
        print(f"  warning: {stack_config.WEBHOOK_SECRETS_ENV} key {key!r} names no route")
    print(f"  GET  {stack.url}/_local/status")
    print(f"  POST {stack.url}/_local/preview/<route>   (what a delivery would become; nothing queued)")
    print(f"  GET  {stack.url}/_local/contacts?email=<address>   (the contact as Constant Contact holds it)")
    seeded = f", seeded from {stack.sandbox_seed.path}" if stack.sandbox_seed else ""
    print(f"  Constant Contact: {stack.cc_api_base_url}" + (f" (embedded sandbox{seeded})" if stack.sandbox else ""))
    for note in stack.external_cc.notes if stack.external_cc else ():
        print(f"  note: {note}")
    if stack.sandbox is not None:  # a local fake's token, printed so its API can be read with curl
        print(f"  sandbox access token: {stack.sandbox_access_token()}")
        print(
            f'    curl -H "Authorization: Bearer <token>" "{stack.cc_api_base_url}/contacts?email=<address>&status=all"'
        )
        print(
            f"    CC_API_BASE_URL={stack.cc_api_base_url} CC_ACCESS_TOKEN=<token> "
            'make backfill ARGS="<export> --route <name>"   (past submissions into it)'
        )
    print("Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
