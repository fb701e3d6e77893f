"""`make send` / `make preview`: post a captured body to a route, signed the way that route's sender signs it.

`python -m local.send ROUTE FILE [--content-type CT] [--url BASE] [--preview] [--secret S]`

- The route's source (routes file: ROUTES_FILE, default routes.yaml) decides the authentication: a signing
  sender's headers (local/events/signers.py: Typeform, Tally, Webflow, Formstack, Framer, Formspree, WPForms,
  HubSpot, Standard Webhooks), else the route token in X-Signup-Relay-Token.
- The secret: --secret, else what the local stack uses (LOCAL_WEBHOOK_SECRETS, local/demo_secrets.json, the local
  default). Against a deployed stack give the route's real secret and --url <WebhookBaseUrl without /hooks/>.
- The content type: --content-type, else from the file (.json, .urlencoded; .multipart files are stored with LF
  line endings and their boundary on the first line, and are sent with CRLF as on the wire).
- --preview posts to the local stack's /_local/preview/<route>: the contact it would become, nothing queued.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local import stack_config
from local.events.signers import sign_headers


def body_and_type(path: Path, content_type: str | None) -> tuple[bytes, str]:
    """The bytes to send and their content type (multipart files: LF -> CRLF, boundary from the first line)."""
    raw = path.read_bytes()
    if path.suffix == ".multipart":
        boundary = raw.split(b"\n", 1)[0].strip().removeprefix(b"--").decode("ascii")
        body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return body, content_type or f"multipart/form-data; boundary={boundary}"
    if content_type:
        return raw, content_type
    if path.suffix == ".urlencoded":
        return raw.strip(), "application/x-www-form-urlencoded"
    return raw, "application/json"


def signed_request(
    route: str, source: str, body: bytes, content_type: str, secret: str, base_url: str, *, preview: bool
) -> urllib.request.Request:
    """The POST a real sender of `source` would make to `route` (or to the local preview of it)."""
    host = urlsplit(base_url).netloc
    headers = {"content-type": content_type, "host": host}
    if source == "standard_webhooks":  # the ids these senders make up per delivery, and sign
        headers["webhook-id"] = f"msg_{uuid.uuid4().hex}"
    if source == "framer":
        headers["framer-webhook-submission-id"] = str(uuid.uuid4())
    # What the signers read: the signed path is the webhook's, even for a preview (HubSpot signs the URI).
    event: dict[str, Any] = {
        "headers": headers,
        "rawPath": f"/hooks/{route}",
        "rawQueryString": "",
        "requestContext": {"http": {"method": "POST"}},
    }
    signature = sign_headers(source, event, body, secret, int(time.time()))
    headers.update(signature or {"x-signup-relay-token": secret})
    path = f"/_local/preview/{route}" if preview else f"/hooks/{route}"
    return urllib.request.Request(
        base_url.rstrip("/") + path,
        data=body,
        method="POST",
        headers={k: v for k, v in headers.items() if k != "host"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.send", description=__doc__.split("\n\n")[0])
    parser.add_argument("route")
    parser.add_argument("file", type=Path)
    parser.add_argument("--content-type")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument("--secret", help="the route's webhook secret (default: the local stack's)")
    parser.add_argument("--preview", action="store_true", help="POST to /_local/preview/<route>: nothing is queued")
    args = parser.parse_args(argv)

    try:
        routes = stack_config.load_local_routes(stack_config.routes_file(os.environ))
        route = routes.get(args.route)
        secrets = stack_config.route_secrets(
            routes, stack_config.secret_overrides(os.environ), stack_config.demo_secrets()
        )
    except Exception as error:  # a bad routes file or route name: say it and stop
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
    secret = args.secret or next(s.value for s in secrets if s.route == args.route)
    body, content_type = body_and_type(args.file, args.content_type)
    request = signed_request(args.route, route.source, body, content_type, secret, args.url, preview=args.preview)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    except urllib.error.URLError as error:
        print(f"error: cannot reach {args.url} ({error.reason}); is `make dev` running?", file=sys.stderr)
        return 2
    try:
        shown = json.dumps(json.loads(answer), indent=2, ensure_ascii=False)
    except ValueError:
        shown = answer.decode("utf-8", "replace")
    print(f"{status} {request.full_url}\n{shown}")
    return 0 if status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
