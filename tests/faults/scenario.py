"""The fault scenario: the sandbox, the fault proxy in front of it, the local stack pointed at the proxy, and senders.

`run_fault_scenario(signups, seed)` seeds the sandbox (rotating refresh tokens, 4 s access tokens), starts the
proxy (30% of requests faulted: error status, dropped, lost answer) and the local stack in this process (configured
as against an external Constant Contact: CC_API_BASE_URL and CC_TOKEN_URL on the proxy, a grant from the sandbox),
delivers the plan over HTTP as senders do (a 5xx or no answer is retried), waits until /_local/status says drained,
and reads what the sandbox stores directly (never through the proxy). `verdict.judge` turns that into the report.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from local.aws_resources import demo_webhook_secrets
from local.cc_sandbox import Sandbox
from local.fault_proxy import DROPPED, ERROR_STATUS, FAULT_KINDS, FaultEvent, FaultProxy
from local.outcomes import SERVICE_LOGGER
from local.stack import LocalStack
from tests.faults.plan import LIST, TAG, Person, Plan, Submission, make_plan, seed_sandbox

ROOT = Path(__file__).resolve().parents[2]
ROUTE = "generic"
FAULT_RATE = 0.3
ACCESS_TOKEN_TTL_SECONDS = 4.0
# A partner key's limit (README, CC_RATE_LIMIT_PER_SECOND): the sandbox enforces it and the stack paces to it, so a
# run spends its time on faults and retries rather than on the standard key's 4 requests/s.
API_REQUESTS_PER_SECOND = 10
SENDERS = 4  # concurrent senders; one person's deliveries are always sent in order, each after the last's answer
SENDER_TRIES = 5  # a sender tries a delivery this often while it gets a 5xx or no answer
SENDER_PAUSE_SECONDS = 0.5
REQUEST_TIMEOUT_SECONDS = 30
TERMINAL = ("created", "updated", "revived", "resubscribed", "kept_unsubscribed", "rejected", "failed")
# Fields of the service's log records worth keeping in the evidence of a failure.
LOG_FIELDS = ("queued_id", "outcome", "error_class", "reason", "attempts", "retry_in_seconds", "status", "error")


@dataclass
class Delivery:
    """One delivery as the sender saw it: `kind` original, duplicate or replay; the last answer and how many tries."""

    submission: Submission
    kind: str
    status: int | None = None
    id: str | None = None
    tries: int = 0
    answers: list[str] = field(default_factory=list)


@dataclass
class Observation:
    """Everything the run produced, for `verdict.judge`."""

    plan: Plan
    deliveries: list[Delivery]
    status: dict[str, Any]  # the last /_local/status
    drained: bool
    contacts: dict[str, dict[str, Any] | None]  # by planned email: the sandbox's full stored record
    stored_emails: list[str]  # every stored contact's address (one per contact)
    permission_history: dict[str, list[dict[str, Any]]]  # by planned email
    resubscribe_requests: dict[str, dict[str, Any] | None]  # by planned email
    list_id: str | None
    tag_id: str | None
    outcomes: dict[str, list[str]]  # queued id -> every outcome logged for it, in order
    log_lines: list[str]
    faults: list[FaultEvent]
    fault_counts: dict[str, int]
    token_requests: list[dict[str, Any]]
    elapsed_seconds: float


class ServiceLog(logging.Handler):
    """Every record of the service's logger as one line, and each queued id's outcomes, in order."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.outcomes: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        values = ", ".join(f"{name}={getattr(record, name)}" for name in LOG_FIELDS if hasattr(record, name))
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        with self._lock:
            self.lines.append(f"{stamp} {record.levelname} {record.getMessage()} [{values}]")
            queued_id, outcome = getattr(record, "queued_id", None), getattr(record, "outcome", None)
            if queued_id and outcome:
                self.outcomes[str(queued_id)].append(str(outcome))


def deliver(url: str, token: str, submission: Submission, kind: str) -> Delivery:
    """POST one delivery as a generic sender does: token header, Idempotency-Key, retried on a 5xx or no answer."""
    delivery = Delivery(submission, kind)
    headers = {
        "Content-Type": "application/json",
        "X-Signup-Relay-Token": token,
        "Idempotency-Key": submission.key,
    }
    while delivery.tries < SENDER_TRIES:
        if delivery.tries:
            time.sleep(SENDER_PAUSE_SECONDS)
        delivery.tries += 1
        try:
            answer = requests.post(
                f"{url}/hooks/{ROUTE}", data=submission.body(), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            delivery.answers.append(type(error).__name__)
            continue
        delivery.status = answer.status_code
        delivery.answers.append(str(answer.status_code))
        if answer.status_code < 500:
            with contextlib.suppress(ValueError):
                delivery.id = answer.json().get("id")
            break
    return delivery


def status_of(url: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/_local/status", timeout=REQUEST_TIMEOUT_SECONDS)
    answer.raise_for_status()
    return dict(answer.json())


def final(status: dict[str, Any], ids: list[str]) -> bool:
    """Every id has a final result (a deferred one will be tried again)."""
    return all(status["results"].get(i, {}).get("outcome") in TERMINAL for i in ids)


def finished(status: dict[str, Any], ids: list[str]) -> bool:
    """Drained, and every id has a final result."""
    return bool(status["drained"]) and final(status, ids)


def wait_until(check: Callable[[], bool], deadline: float, pause: float = 0.5) -> bool:
    """Poll `check` until it holds (True) or time.monotonic() passes `deadline` (False)."""
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
    return True


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def quiet_service_output(log: ServiceLog) -> Iterator[None]:
    """The handlers' log records go to `log` only, their JSON lines and EMF metrics to a buffer."""
    from signup_relay.observability import logger

    service = logging.getLogger(SERVICE_LOGGER)
    handler: Any = logger.registered_handler
    stream = handler.stream
    propagate = service.propagate
    handler.stream = io.StringIO()
    service.addHandler(log)
    service.propagate = False  # pytest's log capture would repeat every line on a failure; `log` has them
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        service.propagate = propagate
        service.removeHandler(log)
        handler.stream = stream


def send_plan(url: str, token: str, plan: Plan, deadline: float) -> list[Delivery]:
    """Phase 1: every first submission (and the at-once duplicates) and the invalid ones; phase 2: the second
    submissions; phase 3: each replay, once everything its person sent has a final result."""
    deliveries: list[Delivery] = []
    lock = threading.Lock()

    def send(submission: Submission, kind: str) -> Delivery:
        delivery = deliver(url, token, submission, kind)
        with lock:
            deliveries.append(delivery)
        return delivery

    def first(person: Person) -> None:
        if send(person.submissions[0], "original").status == 200 and person.duplicate:
            send(person.submissions[0], "duplicate")

    def replay(person: Person) -> None:
        sent = [d.id for d in deliveries if d.submission in person.submissions and d.id]
        wait_until(lambda: final(status_of(url), sent), deadline)
        send(person.submissions[0], "replay")

    with ThreadPoolExecutor(SENDERS, thread_name_prefix="sender") as senders:
        list(senders.map(first, plan.people))
        list(senders.map(lambda s: send(s, "original"), plan.invalid))
        list(senders.map(lambda p: send(p.submissions[1], "original"), [p for p in plan.people if p.submissions[1:]]))
        list(senders.map(replay, [p for p in plan.people if p.replay]))
    return deliveries


def run_fault_scenario(
    signups: int,
    seed: int,
    *,
    fault_rate: float = FAULT_RATE,
    token_lost_answers: bool = False,
    time_limit_seconds: float = 240.0,
) -> Observation:
    """The whole scenario; see the module docstring. `token_lost_answers` also loses token endpoint answers.

    The time limit covers sending and draining. Keep it above the longest retry schedule (10 + 20 + 40 + 80 s of
    backoff before the fifth and last attempt) or a slow sign-up is reported as still queued.
    """
    plan = make_plan(signups, seed)
    token = demo_webhook_secrets()[ROUTE]
    # A lost answer from the token endpoint spends a rotating refresh token whose successor nobody received: no client
    # can recover from that (README, "Connect", step 6), so by default the token endpoint gets only the faults that
    # forward nothing, and the suite measures the relay rather than that one documented window.
    path_kinds = {} if token_lost_answers else {"/oauth2/": (ERROR_STATUS, DROPPED)}
    log = ServiceLog()
    started = time.monotonic()
    with (
        environment_variable("CC_RATE_LIMIT_PER_SECOND", str(API_REQUESTS_PER_SECOND)),
        Sandbox(
            rate_limit_per_second=API_REQUESTS_PER_SECOND,
            access_token_ttl=ACCESS_TOKEN_TTL_SECONDS,
            refresh_token_type="rotating",
        ) as sandbox,
        FaultProxy(sandbox.root_url, rate=fault_rate, seed=seed, kinds=FAULT_KINDS, path_kinds=path_kinds) as proxy,
    ):
        seed_sandbox(sandbox, plan)
        grant = sandbox.issue_tokens()
        environment = {
            "CC_API_BASE_URL": proxy.proxied(sandbox.base_url),
            "CC_TOKEN_URL": proxy.proxied(sandbox.token_url),
            "CC_CLIENT_ID": sandbox.client_id,
            "CC_CLIENT_SECRET": sandbox.client_secret,
            "CC_ACCESS_TOKEN": grant["access_token"],
            "CC_REFRESH_TOKEN": grant["refresh_token"],
        }
        with (
            quiet_service_output(log),
            LocalStack(port=0, constant_contact_env=environment, routes_file=ROOT / "routes.yaml") as stack,
        ):
            deadline = time.monotonic() + time_limit_seconds
            deliveries = send_plan(stack.url, token, plan, deadline)
            ids = [d.id for d in deliveries if d.id and d.status == 200]
            drained = wait_until(lambda: finished(status_of(stack.url), ids), deadline)
            status = status_of(stack.url)
        emails = [p.email for p in plan.people]
        contacts = {email: sandbox.contact_by_email(email) for email in emails}
        return Observation(
            plan=plan,
            deliveries=deliveries,
            status=status,
            drained=drained,
            contacts=contacts,
            stored_emails=[str(c["email_address"]["address"]) for c in sandbox.all_contacts()],
            permission_history={
                email: sandbox.permission_history(c["contact_id"]) for email, c in contacts.items() if c
            },
            resubscribe_requests={
                email: sandbox.resubscribe_request(c["contact_id"]) for email, c in contacts.items() if c
            },
            list_id=sandbox.list_id(LIST),
            tag_id=sandbox.seed_tag(TAG),  # the existing tag's id (it is created when missing: then nobody has it)
            outcomes=dict(log.outcomes),
            log_lines=list(log.lines),
            faults=list(proxy.faults),
            fault_counts=proxy.snapshot(),
            token_requests=sandbox.token_requests,
            elapsed_seconds=time.monotonic() - started,
        )
