"""`python -m local.events`: rewrite the generated events/ files, their expected.json entries and sandbox_seed.json.

`python -m local.events --fresh DIR`: copies of every events/ file in DIR, time-windowed signatures re-made at
the current time (`make events`; `make invoke` sends one), for `sam local invoke -e` and curl.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from local.events.build import load_event, write_events
from local.events.paths import EVENTS_DIR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.events", description=__doc__)
    parser.add_argument("--fresh", metavar="DIR", help="write re-signed copies to DIR instead of regenerating events/")
    args = parser.parse_args(argv)
    if args.fresh is None:
        for file in write_events():
            print(f"events/{file}")
        return
    target = Path(args.fresh)
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(EVENTS_DIR.glob("*.json")):
        if path.name in ("expected.json", "sandbox_seed.json"):
            continue
        (target / path.name).write_text(
            json.dumps(load_event(path.name, fresh=True), indent=2, ensure_ascii=False) + "\n"
        )
        print(target / path.name)


if __name__ == "__main__":
    main()
