"""`python -m local.events`: rewrite the generated events/ files, their expected.json entries and sandbox_seed.json."""

from __future__ import annotations

from local.events.build import write_events


def main() -> None:
    for file in write_events():
        print(f"events/{file}")


if __name__ == "__main__":
    main()
