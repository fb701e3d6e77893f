"""`make bench`: run each benchmark module's main() in turn. Add a module to BENCHMARKS to include it."""

from __future__ import annotations

import importlib

BENCHMARKS = [
    "tests.bench.bench_engine",
    "tests.bench.bench_v2",
    "tests.bench.bench_receive",
    "tests.bench.bench_faults",
    "tests.bench.bench_burst",
    "tests.bench.bench_backfill",
    "tests.bench.bench_quota",
]


def main() -> None:
    for name in BENCHMARKS:
        print(f"== {name}")
        importlib.import_module(name).main()
        print()


if __name__ == "__main__":
    main()
