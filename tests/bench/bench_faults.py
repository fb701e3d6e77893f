"""Benchmark: the fault suite's long form, about 200 sign-ups through the local stack with 30% of the requests to
Constant Contact faulted (tests/faults/: scenario.py runs it, verdict.py defines each figure of the printed line).

`python -m tests.bench.bench_faults [--signups N] [--seed N] [--token-lost-answers]`; the last option also loses
token endpoint answers, which with rotating refresh tokens kills the grant (README, "Connect", step 6).
"""

from __future__ import annotations

import argparse
import sys

from tests.faults.scenario import ACCESS_TOKEN_TTL_SECONDS, FAULT_RATE, run_fault_scenario
from tests.faults.verdict import judge

SIGNUPS = 200
SEED = 7
TIME_LIMIT_SECONDS = 900.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_faults", description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=SIGNUPS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--token-lost-answers", action="store_true")
    args = parser.parse_args([] if argv is None else argv)
    observation = run_fault_scenario(
        args.signups, args.seed, token_lost_answers=args.token_lost_answers, time_limit_seconds=TIME_LIMIT_SECONDS
    )
    report = judge(observation)
    lost_answers = "including" if args.token_lost_answers else "except"
    print(
        f"fault suite, long form: {args.signups} sign-ups, seed {args.seed}, {FAULT_RATE:.0%} faults ({lost_answers} "
        f"lost token endpoint answers), rotating refresh tokens, {ACCESS_TOKEN_TTL_SECONDS:.0f} s access tokens"
    )
    print(f"  {report.line()}")
    print(f"  {report.summary}")
    for line in [*report.problems, *report.evidence]:
        print(f"  {line}")


if __name__ == "__main__":
    main(sys.argv[1:])
