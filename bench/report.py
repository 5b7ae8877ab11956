"""Tables (markdown), chart (PNG) and raw results (JSON) from a run's ``Results``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config, fanout
from .adapters import Implementation

if TYPE_CHECKING:
    from .run import Results

REFERENCE = "websockets-asyncio"
CEILING = "harness-echo"
ROLE_TITLES = {
    "server": "Server role: each server driven by the fixed generator",
    "client": "Client role: each client against the fixed echo server",
}
DISTRIBUTIONS = [
    "anyio-ws",
    "anyio",
    "trio",
    "websockets",
    "trio-websocket",
    "wsproto",
    "aiohttp",
    "picows",
    "uvloop",
    "numpy",
    "matplotlib",
    "psutil",
]


def raw_baseline(impl: Implementation) -> str:
    return f"raw-anyio-{impl.backend}"


def fmt(value: float) -> str:
    """A number with 3 significant digits and thousands separators."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}×"


def median_of(cell: dict[str, list[Any]] | None) -> float | None:
    if not cell or not cell["values"]:
        return None
    return float(statistics.median(cell["values"]))


WIRE_KEYS = ("fz", "fzs")
"""Compressed fan-out: the generator reports the payload bytes per delivered message."""


def wire_bytes(cell: dict[str, list[Any]] | None) -> float | None:
    """Median payload bytes per delivered message of a compressed fan-out cell."""
    if not cell:
        return None
    found = [
        d["payload_bytes_per_message"] for d in cell["details"] if "payload_bytes_per_message" in d
    ]
    return float(statistics.median(found)) if found else None


def wire_text(impl: Implementation, cell: dict[str, list[Any]] | None) -> str:
    value = wire_bytes(cell)
    if value is not None:
        return f"{value:.1f}"
    if impl.raw and cell and cell["values"]:
        return f"{fanout.SIZE} (not compressed)"
    return ""


def workload_table(role: str, key: str, results: Results, impls: list[Implementation]) -> list[str]:
    workload = config.WORKLOADS[key]
    cells = results.cells.get(role, {}).get(key, {})
    skipped = results.skipped.get(role, {}).get(key, {})
    better = "higher is better" if workload.higher_is_better else "lower is better"
    wire = key in WIRE_KEYS
    lines = [
        f"#### {workload.title} — {workload.unit}, {better}",
        "",
        "| implementation | loop | median | min–max | n | × websockets-asyncio "
        "| × raw anyio, same loop |" + (" payload B/message |" if wire else ""),
        "|---|---|---:|---:|---:|---:|---:|" + ("---:|" if wire else ""),
    ]
    reference = median_of(cells.get(REFERENCE))
    for impl in impls:
        if role == "client" and impl.server_only:
            continue
        loop = "uvloop" if impl.force_uvloop else impl.backend
        if impl.name in skipped:
            end = " |" if wire else ""
            lines.append(f"| {impl.name} | {loop} | n/a | | | | {skipped[impl.name]} |{end}")
            continue
        cell = cells.get(impl.name)
        if cell is None:
            continue
        value = median_of(cell)
        end = f" {wire_text(impl, cell)} |" if wire else ""
        if value is None:
            error = cell["errors"][0] if cell["errors"] else "no value"
            lines.append(f"| {impl.name} | {loop} | failed | | | | {error[:60]} |{end}")
            continue
        spread = f"{fmt(min(cell['values']))}–{fmt(max(cell['values']))}"
        n = str(len(cell["values"])) + (
            f" ({len(cell['errors'])} failed)" if cell["errors"] else ""
        )
        name = f"**{impl.name}**" if impl.name.startswith("anyio_ws") else impl.name
        if impl.name == CEILING:
            lines.append(f"| {name} (ceiling) | {loop} | {fmt(value)} | {spread} | {n} | | |{end}")
            continue
        base = median_of(cells.get(raw_baseline(impl)))
        lines.append(
            f"| {name} | {loop} | {fmt(value)} | {spread} | {n} | {ratio(value, reference)} "
            f"| {ratio(value, base)} |{end}"
        )
    return lines + [""]


def wire_table(keys: list[str], results: Results, impls: list[Implementation]) -> list[str]:
    """Payload bytes per delivered message in (fz) and (fzs), side by side; with both,
    what sharing the compression changes: bytes paid, and messages delivered per second."""
    shown = [k for k in WIRE_KEYS if k in keys]
    both = len(shown) == 2
    cells = {k: results.cells.get("server", {}).get(k, {}) for k in shown}
    rows = []
    for impl in impls:
        values = [wire_bytes(cells[k].get(impl.name)) for k in shown]
        if all(v is None for v in values):
            continue
        row = [f"{v:.1f} ({v / fanout.SIZE:.2f})" if v is not None else "—" for v in values]
        if both:
            fz, fzs = values
            row.append(f"{fzs / fz:.2f}×" if fz and fzs else "—")
            rate_fz, rate_fzs = (median_of(cells[k].get(impl.name)) for k in shown)
            row.append(f"{rate_fzs / rate_fz:.2f}×" if rate_fz and rate_fzs else "—")
        name = f"**{impl.name}**" if impl.name.startswith("anyio_ws") else impl.name
        rows.append(f"| {name} | " + " | ".join(row) + " |")
    if not rows:
        return []
    head = " | ".join(f"({k}) B/message (÷ {fanout.SIZE} B)" for k in shown)
    extra = " | bytes (fzs) ÷ (fz) | messages/s (fzs) ÷ (fz) |" if both else " |"
    return [
        "#### Wire cost of compressed fan-out: payload bytes per delivered message",
        "",
        f"Each message is {fanout.SIZE} bytes of text; the generator's clients add up the "
        "payload bytes of the data frames they receive (frame headers excluded) and divide "
        "by the messages they verified: the compressed size a client pays for, and in "
        "brackets the ratio to the uncompressed size."
        + (
            " The last two columns compare the medians of (fzs) and (fz): the bytes each "
            "client receives per message, and the delivered messages per second."
            if both
            else ""
        ),
        "",
        f"| implementation | {head}{extra}",
        "|---|" + "---:|" * (len(shown) + (2 if both else 0)),
        *rows,
        "",
    ]


def summary_table(
    role: str, keys: list[str], results: Results, impls: list[Implementation]
) -> list[str]:
    """Medians of every workload, one row per implementation, with × websockets-asyncio."""
    head = (
        "| implementation | " + " | ".join(f"{k} ({config.WORKLOADS[k].unit})" for k in keys) + " |"
    )
    lines = [head, "|---|" + "---:|" * len(keys)]
    for impl in impls:
        if role == "client" and impl.server_only:
            continue
        row = []
        for key in keys:
            cells = results.cells.get(role, {}).get(key, {})
            value = median_of(cells.get(impl.name))
            if value is None:
                row.append("—")
                continue
            ref = median_of(cells.get(REFERENCE))
            rel = f" ({ratio(value, ref)})" if ref and impl.name not in (REFERENCE, CEILING) else ""
            row.append(fmt(value) + rel)
        name = f"**{impl.name}**" if impl.name.startswith("anyio_ws") else impl.name
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return lines + [""]


def anomalies(results: Results) -> list[str]:
    """What the generator saw go wrong without failing a cell (summed over repetitions)."""
    notes = []
    for role, by_key in results.cells.items():
        for key, by_impl in by_key.items():
            for impl, cell in by_impl.items():
                counts: dict[str, int] = {}
                for details in cell["details"]:
                    for name, value in details.items():
                        if name.startswith("anomaly") and value:
                            counts[name] = counts.get(name, 0) + value
                total = sum(d.get("connections", 0) for d in cell["details"])
                for name, value in counts.items():
                    what = name.split(":", 1)[1].strip()
                    notes.append(
                        f"{role} role, ({key}) {impl}: {value} of {total} connections: {what}."
                    )
    return notes


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    found = {}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return found


def git_revision() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "anyio_ws"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return rev + (" (anyio_ws modified)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_lines(settings: config.Settings, keys: list[str], elapsed: float) -> list[str]:
    vers = ", ".join(f"{k} {v}" for k, v in versions().items())
    many = ""
    if "b1k" in keys:
        many += f"(b1k) {settings.many_connections} connections; "
    if any(k in config.FANOUT_WORKLOADS for k in keys):
        many += (
            f"(f) {settings.fanout_connections} clients, rounds of {settings.fanout_round} "
            "messages; "
        )
    if many:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        many += (
            "every process raised its open-file limit (RLIMIT_NOFILE) to the hard limit, "
            f"{nofile}; "
        )
    return [
        f"- Machine: {cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} "
        f"{platform.release()}; fixed side pinned to CPU {config.GENERATOR_CPU}, measured "
        f"process to CPU {config.MEASURED_CPU}; loopback 127.0.0.1.",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); {vers}; "
        f"anyio_ws at {git_revision()}.",
        (
            f"- Settings: {settings.reps} repetition(s) per cell, round-robin order; "
            f"{settings.warmup} s warm-up + {settings.window} s window; (b) "
            f"{settings.connections} connections; (e) {settings.idle_connections} connections; "
            f"{many}"
            if keys
            else "- Settings: the cost curve only (its settings are stated under it); "
        )
        + f"measured asyncio loop: {'uvloop' if settings.uvloop else 'asyncio (default)'}. "
        f"Run took {elapsed / 60:.1f} min; {time.strftime('%Y-%m-%d %H:%M %Z')}.",
    ]


def markdown(
    results: Results,
    impls: list[Implementation],
    keys: list[str],
    settings: config.Settings,
    elapsed: float,
    curve_impls: list[Implementation] | None = None,
) -> str:
    lines = ["# anyio_ws benchmarks", ""]
    compressed = [k for k in keys if config.WORKLOADS[k].compression]
    plain = [k for k in keys if k not in compressed]
    for role in ("server", "client"):
        if role not in results.cells:
            continue
        lines += [f"## {ROLE_TITLES[role]}", ""]
        role_keys = [k for k in plain if role_has(role, k)]
        if len(role_keys) > 1:
            lines += ["Medians (× websockets-asyncio):", ""]
            lines += summary_table(role, role_keys, results, impls)
        for key in role_keys:
            if key in results.cells[role] or key in results.skipped.get(role, {}):
                lines += workload_table(role, key, results, impls)
    if compressed:
        lines += ["## With compression (permessage-deflate)", ""]
        for role in ("server", "client"):
            for key in compressed:
                if key in results.cells.get(role, {}) or key in results.skipped.get(role, {}):
                    lines += [f"### {ROLE_TITLES[role]}", ""]
                    lines += workload_table(role, key, results, impls)
        if "cz" in keys:
            lines += [
                "The raw rows of (cz) echo the same 1 MiB uncompressed: the cost of the bytes "
                "alone.",
                "",
            ]
        if "fz" in keys:
            lines += [
                "The raw rows of (fz) send the same 64-byte frames uncompressed, as in (f).",
                "",
            ]
        if "fzs" in keys:
            lines += [
                "(fzs) is (fz) where the library can compress a broadcast message once for "
                "every connection that negotiated the same parameters (anyio_ws: "
                "`serve(shared_compression=True)`, which asks for server_no_context_takeover);"
                " n/a where it cannot.",
                "",
            ]
        lines += wire_table(keys, results, impls)
    if results.curve or results.curve_skipped:
        lines += curve_section(results, curve_impls or impls, settings)
    lines += [
        "## How to read",
        "",
        "- Each cell: median of the repetitions, min–max spread, n = repetitions that "
        "succeeded. Ratios divide medians: above 1× is faster (for (e), more memory).",
        "- × raw anyio: against a TCP echo on anyio streams on the same loop (no WebSocket):"
        " what the loop and the socket cost on their own.",
        f"- {CEILING}: the harness's own echo server (uvloop, raw protocol) under the"
        " generator: roughly the most the harness can measure in either role.",
        "- MB/s = 10⁶ payload bytes echoed per second (counted once, not per direction).",
    ]
    if any(k in config.FANOUT_WORKLOADS for k in keys):
        lines += [
            "- (f), (fz), (fzs): messages received and checked (in order, each exactly once) by the"
            " generator's clients per second, summed over the clients; the server sends"
            " rounds of messages on request, the next round once every client has the last"
            " one (bench/README.md). Server role only.",
        ]
    lines += [""]
    lines += machine_lines(settings, keys, elapsed)
    for note in results.notes + anomalies(results):
        lines.append(f"- Note: {note}")
    if results.errors:
        lines += ["", "Failed cells:", ""]
        lines += [f"- {e}" for e in results.errors]
    return "\n".join(lines) + "\n"


def curve_cell(results: Results, measure: str, impl: str, n: int) -> dict[str, list[Any]] | None:
    return results.curve.get(measure, {}).get(impl, {}).get(str(n))


def curve_cost(measure: config.Measure, value: float) -> float:
    """What the growth check compares: the value, or for a rate its inverse (time per unit)."""
    return 1 / value if measure.higher_is_better else value


def cost_text(measure: config.Measure, value: float) -> str:
    if measure.higher_is_better:
        return f"{1e6 / value:.3g} µs"
    return f"{value:.3g} {measure.unit.split('/')[0]}"


def curve_growth(
    results: Results, measure: config.Measure, impl: str, sizes: tuple[int, ...]
) -> tuple[float, float, float] | None:
    """(growth, value at the second-largest N, value at the largest N), or None."""
    if len(sizes) < 2:
        return None
    low = median_of(curve_cell(results, measure.key, impl, sizes[-2]))
    high = median_of(curve_cell(results, measure.key, impl, sizes[-1]))
    if not low or not high:
        return None
    return curve_cost(measure, high) / curve_cost(measure, low), low, high


def curve_section(
    results: Results, impls: list[Implementation], settings: config.Settings
) -> list[str]:
    """One table per measure of the cost curve (rows: implementations, columns: N), the
    growth check, and how the cells were run."""
    sizes = tuple(settings.curve_sizes)
    names = [i.name for i in impls]
    reps = max(
        (
            len(c["values"]) + len(c["errors"])
            for m in results.curve.values()
            for row in m.values()
            for c in row.values()
        ),
        default=0,
    )
    lines = ["## Cost curve: what each connection costs as connections grow", ""]
    findings: list[str] = []
    columns = " | ".join(f"{n:,}" for n in sizes)
    growth_head = f"{sizes[-2]:,} → {sizes[-1]:,}" if len(sizes) > 1 else ""
    for measure in config.CURVE_MEASURES.values():
        better = "higher is better" if measure.higher_is_better else "lower is better"
        lines += [
            f"#### {measure.title} — {measure.unit}, {better}",
            "",
            f"| implementation | loop | {columns} |"
            + (f" {measure.cost}, {growth_head} |" if growth_head else ""),
            "|---|---|" + "---:|" * (len(sizes) + (1 if growth_head else 0)),
        ]
        skipped = results.curve_skipped.get(measure.key, {})
        for impl in impls:
            loop = "uvloop" if impl.force_uvloop else impl.backend
            name = f"**{impl.name}**" if impl.name.startswith("anyio_ws") else impl.name
            if impl.name == CEILING:
                name += " (ceiling)"
            if impl.name in skipped:
                lines.append(f"| {name} | {loop} | n/a: {skipped[impl.name]} |")
                continue
            row = []
            for n in sizes:
                cell = curve_cell(results, measure.key, impl.name, n)
                value = median_of(cell)
                if value is not None:
                    row.append(fmt(value))
                elif cell and cell["errors"]:
                    row.append(f"failed: {cell['errors'][0][:70]}")
                else:
                    row.append("—")
            growth = curve_growth(results, measure, impl.name, sizes)
            if growth_head:
                row.append(f"{growth[0]:.2f}×" if growth else "—")
            lines.append(f"| {name} | {loop} | " + " | ".join(row) + " |")
            if growth and growth[0] > config.CURVE_GROWTH_LIMIT:
                factor, low, high = growth
                who = impl.name
                if who == CEILING:
                    who += " (the ceiling: the generator's and the kernel's own share)"
                findings.append(
                    f"{who}: {measure.cost} ({measure.key}) grows {factor:.2f}× from "
                    f"{sizes[-2]:,} to {sizes[-1]:,} connections ({cost_text(measure, low)} → "
                    f"{cost_text(measure, high)})"
                )
        lines.append("")
    if growth_head:
        lines += [
            f"Growth check: memory per connection should stay roughly flat (total memory "
            f"linear in N), and so should the time per delivered message; the last column "
            f"divides the cost at {sizes[-1]:,} by the cost at {sizes[-2]:,} (for a rate, the "
            f"cost is its inverse: time per unit), and a note follows for any row above "
            f"{config.CURVE_GROWTH_LIMIT}×. Such a note is a finding, not an error.",
            "",
        ]
        if findings:
            lines += [f"- Finding: {f}." for f in findings] + [""]
        else:
            lines += [f"- No row grows by more than {config.CURVE_GROWTH_LIMIT}×.", ""]
    big = config.curve_settings(settings, sizes[-1])
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    lines += [
        f"Each column N: one fresh server process answers (i), (ii) and (iii) on the same N "
        f"connections (opened {settings.open_concurrency} at a time, one echo each, as in "
        f"(e)), then a fresh broadcast server answers (iv) (the (f) rounds of "
        f"{settings.fanout_round} messages). Warm-up and window: {settings.warmup} s + "
        f"{settings.window} s up to 2,000 connections, growing with N beyond "
        f"({big.warmup:.3g} s + {big.window:.3g} s at {sizes[-1]:,}); {reps} repetition(s) "
        f"per cell (median shown); each cell is bounded (at {sizes[-1]:,}: "
        f"{config.curve_timeout(big, sizes[-1]):.0f} s) and fails with its reason rather "
        f"than hang. {sizes[-1]:,} connections need as many file descriptors in the server "
        f"and in the generator: every process raised its open-file limit (RLIMIT_NOFILE) to "
        f"the hard limit, {nofile} here. Rows: {', '.join(names)}.",
        "",
    ]
    return lines


def curve_chart(
    results: Results, impls: list[Implementation], sizes: tuple[int, ...], path: Path
) -> Path | None:
    """Four panels, one per measure: value against N, log x axis, a line per implementation."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), squeeze=False)
    styles = {
        "anyio_ws": ("tab:red", "o"),
        "websockets": ("tab:blue", "s"),
        "raw": ("tab:gray", "^"),
    }
    for ax, measure in zip(axes.flat, config.CURVE_MEASURES.values(), strict=True):
        for impl in impls:
            points = [
                (n, v)
                for n in sizes
                if (v := median_of(curve_cell(results, measure.key, impl.name, n))) is not None
            ]
            if not points:
                continue
            family = impl.name.split("-")[0]
            color, marker = styles.get(family, ("tab:green", "D"))
            dashed = impl.backend == "trio"
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker=marker,
                color=color,
                linestyle="--" if dashed else "-",
                label=impl.name,
            )
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)  # linear from 0: a flat line is a flat cost
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xticks(list(sizes))
        ax.set_xticklabels([f"{n:,}" for n in sizes], fontsize=7)
        ax.minorticks_off()
        ax.tick_params(axis="y", labelsize=7)
        better = "higher" if measure.higher_is_better else "lower"
        ax.set_title(f"{measure.title}\n{measure.unit}, {better} is better", fontsize=8)
        ax.set_xlabel("connections (N)", fontsize=7)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes.flat[1:]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if not labels:  # every cell failed: nothing to plot
        plt.close(fig)
        return None
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def role_has(role: str, key: str) -> bool:
    """Whether workload ``key`` runs in ``role`` ((f) and (fz): the server role only)."""
    return role == "server" or key not in config.SERVER_ONLY_WORKLOADS


def chart(
    results: Results, impls: list[Implementation], keys: list[str], path: Path
) -> Path | None:
    """Horizontal bars (median, min–max whiskers), one panel per role and workload."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    roles = [r for r in ("server", "client") if r in results.cells]
    if not roles:
        return None
    names = [i.name for i in impls]
    if "server" not in roles:  # the client role has no (f), (fz) panels
        keys = [k for k in keys if role_has("client", k)]
    if not keys:
        return None
    fig, axes = plt.subplots(
        len(roles),
        len(keys),
        figsize=(3.6 * len(keys), 0.32 * len(names) * len(roles) + 2),
        squeeze=False,
    )
    for r, role in enumerate(roles):
        for c, key in enumerate(keys):
            ax = axes[r][c]
            if not role_has(role, key):
                ax.set_title(f"{role}: {key}", fontsize=8)
                ax.text(0.5, 0.5, "server role only", ha="center", va="center", fontsize=8)
                ax.set_axis_off()
                continue
            cells = results.cells[role].get(key, {})
            rows = [n for n in names if median_of(cells.get(n)) is not None]
            if key == "cz":  # raw rows send 1 MiB uncompressed: off the scale, left out
                rows = [n for n in rows if not n.startswith("raw")]
            medians = [median_of(cells[n]) or 0.0 for n in rows]
            lows = [m - min(cells[n]["values"]) for n, m in zip(rows, medians, strict=True)]
            highs = [max(cells[n]["values"]) - m for n, m in zip(rows, medians, strict=True)]
            colors = [
                "tab:red"
                if n.startswith("anyio_ws")
                else "tab:gray"
                if n.startswith(("raw", CEILING))
                else "tab:blue"
                for n in rows
            ]
            ax.barh(range(len(rows)), medians, xerr=[lows, highs], color=colors, capsize=2)
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels(rows, fontsize=7)
            ax.invert_yaxis()
            workload = config.WORKLOADS[key]
            better = "higher" if workload.higher_is_better else "lower"
            title = f"{role}: {key} ({workload.unit}, {better} is better)"
            if len(title) > 45:  # wrap what would overflow its panel
                title = f"{role}: {key}\n({workload.unit}, {better} is better)"
            ax.set_title(title, fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(
    results: Results,
    impls: list[Implementation],
    keys: list[str],
    settings: config.Settings,
    args: argparse.Namespace,
    elapsed: float,
    out: Path,
    curve_impls: list[Implementation] | None = None,
) -> dict[str, Any]:
    """Write ``bench-<time>.md/.png/.json`` and ``latest.*`` copies under ``out``; with the
    cost curve, its plot too: ``bench-<time>-curve.png``, copied to ``curve.png``."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = markdown(results, impls, keys, settings, elapsed, curve_impls)
    paths: dict[str, Any] = {"markdown_text": text}
    md = out / f"bench-{stamp}.md"
    md.write_text(text)
    paths["markdown"] = md
    raw = out / f"bench-{stamp}.json"
    raw.write_text(
        json.dumps(
            {
                "settings": settings.__dict__,
                "argv": vars(args) | {"out": str(args.out)},
                "results": results.to_json(),
            },
            indent=1,
            default=str,
        )
    )
    paths["json"] = raw
    if not args.no_chart:
        png = chart(results, impls, keys, out / f"bench-{stamp}.png")
        if png is not None:
            paths["chart"] = png
        if results.curve:
            sizes = tuple(settings.curve_sizes)
            png = curve_chart(
                results, curve_impls or impls, sizes, out / f"bench-{stamp}-curve.png"
            )
            if png is not None:
                paths["curve_chart"] = png
                shutil.copyfile(png, out / "curve.png")
    for kind in ("markdown", "json", "chart"):
        if kind in paths:
            latest = out / f"latest{paths[kind].suffix}"
            shutil.copyfile(paths[kind], latest)
    return paths
