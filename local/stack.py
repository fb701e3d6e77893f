"""`make dev`: the whole stack on 127.0.0.1 with no Docker, no AWS and no internet.

The template's routes and handlers in-process, moto for SQS and Secrets Manager, the embedded sandbox (or the
Constant Contact at CC_API_BASE_URL), a poller feeding the upsert handler, and /_local/status and /_local/dlq:
local/README.md describes each; local/stack_config.py reads and checks the environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from local import cc_account, sandbox_seed, stack_config
from local.consumers import UPSERT_CONTAINERS, ConsumerLoops
from local.functions import REGION, LocalFunction
from local.gateway import JSON, GatewayRefusal, answer_route, gateway_answer, gateway_server, read_body, reply
from local.local_endpoints import LocalEndpoints
from local.outcomes import SERVICE_LOGGER, OutcomeRecorder
from local.template import (
    HttpRoute,
    QueueConsumer,
    ScheduledFunction,
    http_routes,
    mapping_schedules,
    scheduled_functions,
    sqs_consumers,
)

CC_ENV = ("CC_API_BASE_URL", "CC_TOKEN_URL", "CC_CLIENT_ID", "CC_CLIENT_SECRET", "CC_ACCESS_TOKEN", "CC_REFRESH_TOKEN")
# With CC_API_BASE_URL: the V2 API and the pair the V2 routes' accounts get (the embedded sandbox has its own).
CC_V2_ENV = ("CC_V2_API_BASE_URL", "CC_V2_API_KEY", "CC_V2_ACCESS_TOKEN")


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
        self._state_lock = threading.Lock()
        self._loops: ConsumerLoops | None = None
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

        from local.aws_resources import create_resources, handler_environment, put_secret, reset_relay_caches

        self.resources = create_resources(visibility_timeout=self.visibility_timeout)
        self._sqs = boto3.client("sqs")

        if (external := self.external_cc) is not None:
            account = cc_account.external_account(external, self._cc_v2_env)
        else:
            from local.cc_sandbox import Sandbox

            # An empty account, like a newly connected one: the routes' create_missing_* settings decide what
            # happens to lists and custom fields that do not exist yet (the demo routes create them).
            self.sandbox = Sandbox(
                port=0, client_id=self._cc_env.get("CC_CLIENT_ID"), client_secret=self._cc_env.get("CC_CLIENT_SECRET")
            ).start()
            if self.sandbox_seed is not None:  # an account that looks lived in (LOCAL_SANDBOX_SEED)
                sandbox_seed.apply_seed(self.sandbox, self.sandbox_seed)
            account = cc_account.sandbox_account(self.sandbox)
        self.cc_api_base_url = account.api_base_url

        environment = handler_environment(
            self.resources,
            cc_api_base_url=self.cc_api_base_url,
            cc_token_url=account.token_url or "",
            routes_file=self.routes_file,
            cc_v2_api_base_url=account.v2_base_url,
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
        cc_account.put_account_secrets(routes, account, cc_secret_id=self.resources.cc_secret_id)

        logging.getLogger(SERVICE_LOGGER).addHandler(self.recorder)
        self.routes = http_routes()
        self.consumers = sqs_consumers()
        self.scheduled = scheduled_functions()  # ScheduleV2 functions: the burst drain (docs/architecture.md §11)
        invoked: list[HttpRoute | QueueConsumer | ScheduledFunction] = [*self.routes, *self.consumers, *self.scheduled]
        for code in invoked:  # one LocalFunction (one warm container) per function, with the template's Timeout
            if code.function not in self.functions:
                self.functions[code.function] = LocalFunction(
                    code.function, code.module, code.handler, code.timeout_seconds
                )
        # The consumers' event source mappings in moto (the quota breaker switches them off) and the schedules that
        # switch them on again (docs/architecture.md §12).
        from local.aws_resources import create_event_source_mappings

        self._lambda = boto3.client("lambda")
        self.mappings = create_event_source_mappings(self.resources)
        self.schedules = mapping_schedules()
        self._loops = ConsumerLoops(
            functions=self.functions,
            consumers=self.consumers,
            scheduled=self.scheduled,
            schedules=self.schedules,
            mappings=self.mappings,
            queue_url=self.resources.queue_url,
            sqs=self._sqs,
            lambda_client=self._lambda,
            clock=self.constant_contact_now,
            state_lock=self._state_lock,
            stopping=self._stopping,
            drain_reports=self.drain_reports,
            poll_interval=self.poll_interval,
            token_refresh_interval=self.token_refresh_interval,
            burst_interval=self.burst_interval,
        )
        self._endpoints = LocalEndpoints(
            status=self.status, resources=self.resources, sqs=self._sqs, state_lock=self._state_lock
        )

    def _serve(self) -> None:
        assert self._loops is not None
        self._server = gateway_server(self.host, self.requested_port, self._http)
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="local-http", daemon=True),
            *self._loops.threads(),
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
            reply(request, refusal.status, JSON, gateway_answer(refusal.status), close=True)
            return
        if self._endpoints.answer(request, method, path, body):
            return
        answer_route(request, method, path, body, self.routes, lambda name, event: self.functions[name].invoke(event))

    # --- consumers --------------------------------------------------------------------------

    def _started_loops(self) -> ConsumerLoops:
        assert self._loops is not None, "the stack is not started"
        return self._loops

    def consumers_paused(self) -> contextlib.AbstractContextManager[None]:
        """Hold the poller and the burst drain while the block runs (a burst arriving all at once)."""
        return self._started_loops().consumers_paused()

    def consumer_enabled(self, mapping: str) -> bool:
        return self._started_loops().consumer_enabled(mapping)

    def quota_breaker_status(self) -> dict[str, Any]:
        """The consumers' switch, the V2 keys held by the in-process breaker and the next reset, for /_local/status."""
        return self._started_loops().quota_breaker_status()

    def constant_contact_now(self) -> datetime:
        """The clock of the Constant Contact in use: the embedded sandbox's (tests move it), else the wall clock."""
        return self.sandbox.clock.now() if self.sandbox is not None else datetime.now(UTC)

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
                            "v2_keys_open": ["v2-<12 hex>"],  # V2 keys whose sign-ups are held
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
        busy = self._started_loops().busy()
        return {
            "url": self.url,
            "constant_contact": self.cc_api_base_url,
            "drained": _drained(depth, busy),
            "queue": {**depth, "busy": busy},
            "dlq": {"records": self.dlq_messages()},
            "quota_breaker": self.quota_breaker_status(),
            "outcomes": counts,
            "results": results,
            "burst": {"runs": list(self.drain_reports)},
        }

    def sandbox_access_token(self) -> str:
        """The embedded sandbox's current access token, as the stack's secret holds it."""
        import boto3

        from signup_relay.config import get_settings

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=get_settings().cc_secret_id)
        return str(json.loads(secret["SecretString"])["access_token"])

    def drained(self) -> bool:
        """What /_local/status says as `drained`, without the rest of the status."""
        return _drained(self.queue_depth(), self._started_loops().busy())


def _drained(depth: dict[str, int], busy: bool) -> bool:
    """The queue is empty (visible and in flight) and no batch or drain run is being processed."""
    return depth["visible"] == 0 and depth["in_flight"] == 0 and not busy


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
