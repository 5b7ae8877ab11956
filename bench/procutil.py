"""Small helpers every benchmark process uses: CPU pinning, limits, memory."""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "
READY_PREFIX = "BENCH-READY "


def setup_process(cpu: int | None) -> None:
    """Pin this process to ``cpu`` (when the machine has it) and raise the fd limit."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        available = os.sched_getaffinity(0)
        if cpu in available or len(available) > cpu:
            try:
                os.sched_setaffinity(0, {cpu})
            except OSError:
                pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (this process by default)."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    return int(psutil.Process(pid).memory_info().rss)


class LoadMeter:
    """CPU used on the machine by processes other than this one and its children.

    Other work on the machine (a test suite in another shell, say) skews every number;
    the report states how much there was, in percent of one CPU, and the hypervisor's
    steal time too.
    """

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        cpu = psutil.cpu_times()
        busy = cpu.user + cpu.nice + cpu.system + getattr(cpu, "irq", 0.0)
        busy += getattr(cpu, "softirq", 0.0)
        ours = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            ours += usage.ru_utime + usage.ru_stime
        return self._clock(), busy, ours, getattr(cpu, "steal", 0.0)

    def foreign_and_steal(self) -> tuple[float, float]:
        """Average foreign CPU load and steal since creation, in % of one CPU."""
        t0, busy0, ours0, steal0 = self._start
        t1, busy1, ours1, steal1 = self._sample()
        elapsed = max(t1 - t0, 1e-9)
        foreign = max(0.0, (busy1 - busy0) - (ours1 - ours0))
        return 100 * foreign / elapsed, 100 * (steal1 - steal0) / elapsed


def settle_memory() -> None:
    """Collect garbage so that an RSS reading is not full of dead objects."""
    gc.collect()


def emit_result(result: dict[str, Any]) -> None:
    """Print the one result line the runner reads."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def emit_ready(*ports: int) -> None:
    """Tell the runner that a server listens, and where."""
    sys.stdout.write(READY_PREFIX + " ".join(map(str, ports)) + "\n")
    sys.stdout.flush()
