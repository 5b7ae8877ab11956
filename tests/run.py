"""Run the whole suite as CI does: the fast tier in parallel, then the slow tests.

    .venv/bin/python tests/run.py [pytest options for every run, such as -x or -q]

The fast tier (``-m "not slow"``) runs on one pytest-xdist worker per CPU (two on the
CI machine), in an order pytest-randomly shuffles (the seed is printed at the top;
``-p randomly --randomly-seed=N`` replays it). Then the four Autobahn runs, two at a
time: each is a ping-pong between kosoku and us that keeps about one CPU busy, so two
of them fill a 2-CPU machine (``xdist_group`` keeps one role per worker). A heavy case
then takes about a third longer than alone (12.2.15: ~17 s of kosoku's 20 s budget on
the client); each run's summary prints its slowest cases. Last, the other slow tests
(the browser and multi-process tests) in a single process, alone on the machine as
they need. Every run always runs; the exit status is the first failure's. Plain
``python -m pytest`` runs the same tests in one serial session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NO_TESTS_COLLECTED = 5
"""pytest's exit status when options select nothing in a tier: not a failure here."""


def cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def tiers() -> list[list[str]]:
    """pytest options of the fast tier, the Autobahn runs, then the other slow tests."""
    return [
        ["-m", "not slow", "--numprocesses", str(cpus())],
        # -rA: the workers' output (verdict counts, slowest cases) in the summary.
        ["-m", "autobahn", "--numprocesses", str(min(cpus(), 2)), "--dist", "loadgroup", "-rA"],
        ["-m", "slow and not autobahn", "--numprocesses", "0"],
    ]


def main(options: list[str]) -> int:
    """Run each tier with ``options``; return 0 or the first failing run's status."""
    statuses = []
    for tier in tiers():
        command = [sys.executable, "-m", "pytest", *tier, *options]
        print("tests/run.py:", " ".join(command[1:]), flush=True)
        statuses.append(subprocess.run(command, cwd=ROOT).returncode)
    failures = [status for status in statuses if status not in (0, NO_TESTS_COLLECTED)]
    if failures:
        return failures[0]
    return NO_TESTS_COLLECTED if all(s == NO_TESTS_COLLECTED for s in statuses) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
