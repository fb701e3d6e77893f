"""`python -m local.cc_sandbox --port 8790`: serve the sandbox until Ctrl-C and print how to reach it as JSON."""

from __future__ import annotations

import argparse
import json

from local.cc_sandbox.server import Sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.cc_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rate-limit", type=float, default=4.0, help="requests/s per client (0 disables)")
    parser.add_argument("--daily-quota", type=int, default=10_000)
    parser.add_argument("--token-ttl", type=float, default=86400, help="access token lifetime in seconds")
    parser.add_argument("--refresh-token-type", choices=("rotating", "long_lived"), default="rotating")
    parser.add_argument("--confirmed-opt-in", action="store_true", help="sign_up_form creates pending_confirmation")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--v2-api-key", help="the V2 API key (default: a random one)")
    parser.add_argument("--device-poll-interval", type=int, default=5)
    parser.add_argument("--seed-list", action="append", default=[], metavar="NAME", help="create a list (repeatable)")
    args = parser.parse_args(argv)

    sandbox = Sandbox(
        port=args.port,
        rate_limit_per_second=args.rate_limit,
        daily_quota=args.daily_quota,
        access_token_ttl=args.token_ttl,
        refresh_token_type=args.refresh_token_type,
        confirmed_opt_in=args.confirmed_opt_in,
        host=args.host,
        client_id=args.client_id,
        client_secret=args.client_secret,
        device_poll_interval=args.device_poll_interval,
        v2_api_key=args.v2_api_key,
    )
    sandbox.start()
    lists = {name: sandbox.seed_list(name) for name in args.seed_list}
    tokens = sandbox.issue_tokens()
    info = {
        "base_url": sandbox.base_url,
        "token_url": sandbox.token_url,
        "authorize_url": sandbox.authorize_url,
        "device_authorize_url": sandbox.device_authorize_url,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_in": tokens["expires_in"],
        "refresh_token_type": args.refresh_token_type,
        "v2_base_url": sandbox.v2_base_url,
        "v2_api_key": sandbox.v2_api_key,
        "v2_access_token": sandbox.v2_access_token,
        "lists": lists,
    }
    print(json.dumps(info, indent=2), flush=True)
    sandbox.serve_until_signalled()


if __name__ == "__main__":
    main()
