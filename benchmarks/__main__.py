"""Run every benchmark module (or the ones named) one after another, each in its own process.

Each `benchmarks/bench_*.py` is runnable on its own (`python -m benchmarks.bench_mock --quick`) and prints a
markdown table with its figures and the ratio against a baseline measured in the same run. Running them in separate
processes keeps one benchmark's memory and event-loop state from colouring the next one's figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    names = [a for a in argv if not a.startswith("-")]
    available = sorted(p.stem for p in HERE.glob("bench_*.py"))
    chosen = [n if n.startswith("bench_") else f"bench_{n}" for n in names] or available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    failed = 0
    for name in chosen:
        print(f"\n## {name}\n", flush=True)
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *flags], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
