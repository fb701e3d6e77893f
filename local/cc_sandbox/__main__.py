"""`python -m local.cc_sandbox --port 8790`: serve the sandbox until Ctrl-C and print how to reach it as JSON."""

from __future__ import annotations

import argparse
import json
import os

from local.cc_sandbox.server import Sandbox

TIME_SCALE_ENV = "CC_SANDBOX_TIME_SCALE"


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The CLI's settings; --time-scale defaults to $CC_SANDBOX_TIME_SCALE, else 1."""
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
    parser.add_argument(
        "--time-scale",
        type=_time_scale,
        default=os.environ.get(TIME_SCALE_ENV, "1"),
        help=f"sandbox seconds per real second (default ${TIME_SCALE_ENV}, else 1)",
    )
    parser.add_argument("--activity-delay", type=float, default=0.0, help="seconds a bulk activity waits to start")
    parser.add_argument(
        "--activity-item-seconds", type=float, default=0.0, help="seconds a bulk activity takes per row or contact"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

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
        activity_delay=args.activity_delay,
        activity_item_seconds=args.activity_item_seconds,
        time_scale=args.time_scale,
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
        "time_scale": sandbox.time_scale,
        "v2_base_url": sandbox.v2_base_url,
        "v2_api_key": sandbox.v2_api_key,
        "v2_access_token": sandbox.v2_access_token,
        "lists": lists,
    }
    print(json.dumps(info, indent=2), flush=True)
    sandbox.serve_until_signalled()


if __name__ == "__main__":
    main()
