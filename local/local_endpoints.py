"""The local stack's own endpoints, beside the template's routes: `GET /_local/status`, `GET /_local/dlq` and
`POST /_local/dlq/replay` (the `dlq` tool on this process's moto), `POST /_local/preview/{route}` and
`GET /_local/contacts?email=` (local/peek.py). local/README.md describes each."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from local.gateway import JSON, reply

if TYPE_CHECKING:
    from local.aws_resources import LocalResources
    from signup_relay.ops.dlq.selection import Selection

DLQ_PATHS = ("/_local/dlq", "/_local/dlq/replay")
REPLAY_KEYS = ("route", "error_class", "id", "ids", "dry_run")  # "ids": the same as a list "id"


class LocalEndpoints:
    """Answers the `/_local/*` requests; `answer` says whether the path was one of them."""

    def __init__(
        self,
        *,
        status: Callable[[], dict[str, Any]],
        resources: LocalResources,
        sqs: Any,
        state_lock: threading.Lock,
    ) -> None:
        """`status` builds /_local/status; `state_lock` keeps the DLQ tools apart from the poller and the status."""
        self._status = status
        self._resources = resources
        self._sqs = sqs
        self._state_lock = state_lock

    def answer(self, request: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> bool:
        if path == "/_local/status":
            if method == "GET":
                reply(request, 200, JSON, json.dumps(self._status()).encode())
            else:
                reply(request, 405, JSON, json.dumps({"message": "Method Not Allowed"}).encode())
        elif path in DLQ_PATHS:
            self._dlq_endpoint(request, method, path, body)
        elif path == "/_local/contacts" or path.startswith("/_local/preview/"):
            self._peek_endpoint(request, method, path, body)
        else:
            return False
        return True

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

        reader = DeadLetterReader(url=self._resources.dlq_url, client=self._sqs, visibility_timeout=30)
        status, payload = 405, {"message": "Method Not Allowed"}
        try:
            if (method, path) == ("GET", "/_local/dlq"):
                with self._state_lock:  # not while /_local/status holds the records
                    status, payload = 200, list_dead_letters(reader).to_json()
            elif (method, path) == ("POST", "/_local/dlq/replay"):
                data = json.loads(body) if body else {}
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                selection = dlq_selection(data)
                routes_file = get_settings().routes_file
                with self._state_lock:
                    report = replay_dead_letters(
                        reader,
                        queue=SignupQueue(url=self._resources.queue_url, client=self._sqs),
                        dlq=DeadLetterQueue(url=self._resources.dlq_url, client=self._sqs),
                        load_routes=lambda: load_routes(routes_file),
                        selection=selection,
                        dry_run=data.get("dry_run", False),
                    )
                status, payload = 200, report.to_json()
        except (ValueError, ConfigError) as error:
            status, payload = 400, {"error": error.message if isinstance(error, ConfigError) else str(error)}
        reply(request, status, JSON, json.dumps(payload).encode())

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
        reply(request, status, JSON, json.dumps(payload).encode())


def dlq_selection(data: Mapping[str, Any]) -> Selection:
    """The records a POST /_local/dlq/replay body selects: {"route", "error_class", "id" (one or a list)};
    ValueError naming what is wrong with the body."""
    from signup_relay.ops.dlq.selection import Selection

    unknown = sorted(set(data) - set(REPLAY_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}; a replay takes {', '.join(REPLAY_KEYS)}")
    for key in ("route", "error_class"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"{key} must be a string")
    if not isinstance(data.get("dry_run", False), bool):
        raise ValueError("dry_run must be true or false")
    ids = data.get("id") or data.get("ids") or ()
    if isinstance(ids, str):
        ids = (ids,)
    if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
        raise ValueError("id must be a record id or a list of them")
    return Selection(route=data.get("route") or None, error_class=data.get("error_class") or None, ids=tuple(ids))
