#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn benchmark results into a Markdown table and a bar chart.

Usage: report.py RESULTS_DIR

RESULTS_DIR/results.csv has the header config,workload,run,value,unit,requests
and one row per run.  Units "MB/s", "IOPS" and "ops/s" are higher-is-better,
"s" (a duration) is lower-is-better.  requests is the number of requests the
FUSE server received during the run, or "-".

Writes RESULTS_DIR/results.md (also printed to stdout) and
RESULTS_DIR/results.png.  Needs python3-matplotlib (Debian bookworm: 3.6).
"""

import csv
import importlib.util
import math
import os
import statistics
import sys

REFERENCE = "native"
LOWER_IS_BETTER = {"s"}
METADATA = ["stat", "create_unlink", "readdir", "untar", "find", "ls_lR"]
SPEEDUP_TARGET = 5.0
WARN = "⚠"


def die(msg):
    print(f"report.py: {msg}", file=sys.stderr)
    sys.exit(1)


def number(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class Cell:
    """The runs of one config on one workload."""

    def __init__(self, unit):
        self.unit = unit
        self.values = []
        self.requests = []

    def median(self):
        return statistics.median(self.values)

    def spread(self):
        """(max - min) / 2 / median, in percent, or None."""
        med = self.median()
        if len(self.values) < 2 or med == 0:
            return None
        return (max(self.values) - min(self.values)) / 2 / abs(med) * 100

    def median_requests(self):
        return statistics.median(self.requests) if self.requests else None


def load(path):
    try:
        f = open(path, newline="")
    except OSError as e:
        die(f"{path}: {e.strerror}")
    configs, workloads, cells = [], [], {}
    with f:
        reader = csv.DictReader(f)
        need = {"config", "workload", "value", "unit"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            die(f"{path}: missing columns: {', '.join(sorted(missing))}")
        for lineno, row in enumerate(reader, 2):
            config = (row["config"] or "").strip()
            workload = (row["workload"] or "").strip()
            unit = (row["unit"] or "").strip()
            value = number(row["value"])
            if not config or not workload or value is None:
                print(f"report.py: {path}:{lineno}: skipping bad row",
                      file=sys.stderr)
                continue
            if config not in configs:
                configs.append(config)
            if workload not in workloads:
                workloads.append(workload)
            cell = cells.setdefault((config, workload), Cell(unit))
            if unit != cell.unit:
                print(f"report.py: {path}:{lineno}: unit {unit!r} differs "
                      f"from {cell.unit!r}, skipping", file=sys.stderr)
                continue
            cell.values.append(value)
            req = number(row.get("requests"))
            if req is not None:
                cell.requests.append(req)
    if not cells:
        die(f"{path}: no results")
    return configs, workloads, cells


def ratio(cells, config, workload, value=None):
    """Ratio of config to native (> 1 is faster), or None.

    With value, the ratio of that single value (for error bars)."""
    cell = cells.get((config, workload))
    ref = cells.get((REFERENCE, workload))
    if cell is None or ref is None or ref.unit != cell.unit:
        return None
    v = cell.median() if value is None else value
    r = ref.median()
    if cell.unit in LOWER_IS_BETTER:
        return r / v if v > 0 else None
    return v / r if r > 0 else None


def target(cells, config, workload):
    """The ratio config must reach on workload, or None."""
    if config == "bpf":
        return 0.97 if workload.startswith("seq") else 0.90
    if config in ("bpf_pre", "bpf_prepost"):
        r = ratio(cells, "bpf", workload)
        return None if r is None else 0.95 * r
    return None


def fmt_value(v):
    a = abs(v)
    if a >= 10000:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def fmt_ratio(r):
    return f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def fmt_requests(r):
    if r is None:
        return "-"
    return f"{r:.0f}" if r == int(r) or r >= 100 else f"{r:.1f}"


def fmt_cell(cells, config, workload, min_runs):
    cell = cells.get((config, workload))
    if cell is None or not cell.values:
        return ""
    s = f"{fmt_value(cell.median())} {cell.unit}".rstrip()
    spread = cell.spread()
    if spread is not None:
        s += f" ±{spread:.1f}%" if spread < 0.95 else f" ±{spread:.0f}%"
    if len(cell.values) < min_runs:
        s += f" n={len(cell.values)}"
    if config == REFERENCE:
        return s
    r = ratio(cells, config, workload)
    rs = "-" if r is None else fmt_ratio(r)
    s += f" ({rs}, {fmt_requests(cell.median_requests())} req)"
    t = target(cells, config, workload)
    if r is not None and t is not None and r < t:
        s += " " + WARN
    return s


def md_escape(s):
    return s.replace("|", "\\|")


def table(header, rows):
    out = ["| " + " | ".join(md_escape(h) for h in header) + " |",
           "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        out.append("| " + " | ".join(md_escape(c) for c in row) + " |")
    return out


def markdown(configs, workloads, cells):
    min_runs = 5
    runs = [len(c.values) for c in cells.values()]
    out = ["# Benchmark results", ""]
    rows = [[w] + [fmt_cell(cells, c, w, min_runs) for c in configs]
            for w in workloads]
    out += table(["workload"] + configs, rows)
    nruns = (f"{min(runs)}" if min(runs) == max(runs)
             else f"{min(runs)} to {max(runs)}")
    out += [
        "",
        f"Each cell: median over {nruns} runs per cell, with unit; "
        "±X% is the spread, (max − min) / 2 / median; "
        f"n=N marks cells with fewer than {min_runs} runs, "
        "whose spread means little.",
        "",
        f"Ratio: median(config) / median({REFERENCE}) for MB/s, IOPS and "
        f"ops/s, median({REFERENCE}) / median(config) for durations (s), "
        f"so a ratio > 1 always means faster than {REFERENCE}; "
        f"\"-\" when there is no {REFERENCE} result.  "
        "req: median number of requests the FUSE server received per run.",
        "",
        f"{WARN}: misses the target: bpf ≥ 0.97× on seq* workloads and "
        "≥ 0.90× on all others; bpf_pre and bpf_prepost ≥ 0.95 × the "
        "ratio of bpf on the same workload; no target for other configs.",
        "",
        "## fuse-bpf vs classic FUSE",
        "",
    ]
    rows = []
    for w in workloads:
        if w not in METADATA:
            continue
        rb, rf = ratio(cells, "bpf", w), ratio(cells, "fuse", w)
        if rb is None or rf is None:
            continue
        speedup = rb / rf
        mark = " " + WARN if speedup < SPEEDUP_TARGET else ""
        rows.append([w, fmt_ratio(rb), fmt_ratio(rf),
                     f"{speedup:.1f}×{mark}"])
    if rows:
        out += table(["workload", "bpf", "fuse", "speedup"], rows)
        out += [
            "",
            "bpf, fuse: ratio to native; speedup = ratio(bpf) / ratio(fuse).",
            "",
            f"{WARN}: speedup below the target of {SPEEDUP_TARGET:.0f}×.",
        ]
    else:
        out.append("No metadata workload (" + ", ".join(METADATA) +
                   ") has bpf, fuse and native results.")
    return "\n".join(out) + "\n"


def plot(path, configs, workloads, cells):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        die(f"cannot write {path}: python3-matplotlib is not installed")

    others = [c for c in configs if c != REFERENCE]
    n = max(len(others), 1)
    width = 0.8 / n
    fig, ax = plt.subplots(
        figsize=(max(6.0, 1.0 + len(workloads) * (0.3 * n + 0.3)), 5.0))
    top = 0.0
    for i, config in enumerate(others):
        xs, ys, lo, hi = [], [], [], []
        for j, w in enumerate(workloads):
            r = ratio(cells, config, w)
            if r is None:
                continue
            cell = cells[(config, w)]
            ends = [ratio(cells, config, w, v)
                    for v in (min(cell.values), max(cell.values))]
            ends = [e for e in ends if e is not None] or [r]
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(r)
            lo.append(max(r - min(ends), 0.0))
            hi.append(max(max(ends) - r, 0.0))
            top = max(top, r)
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2,
                   label=config, color=f"C{i % 10}")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    if top > 10:
        ax.set_yscale("log")
    if top == 0:
        ax.text(0.5, 0.5, f"no results with a {REFERENCE} reference",
                ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads, rotation=45, ha="right")
    ax.set_xlim(-0.6, len(workloads) - 0.4)
    ax.set_ylabel(f"ratio to {REFERENCE} (> 1 is faster)")
    ax.set_title(f"Performance relative to {REFERENCE} "
                 "(median; error bars: min/max run)")
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def want_matplotlib():
    """Re-run under Debian's python3 if this one lacks matplotlib.

    A python3 earlier in PATH (pyenv, a venv) may not see the
    python3-matplotlib package."""
    if importlib.util.find_spec("matplotlib"):
        return
    system = "/usr/bin/python3"
    if (os.environ.get("REPORT_PY_REEXEC") or not os.access(system, os.X_OK)
            or os.path.realpath(sys.executable) == os.path.realpath(system)):
        return
    os.environ["REPORT_PY_REEXEC"] = "1"
    os.execv(system, [system] + sys.argv)


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print("usage: report.py RESULTS_DIR", file=sys.stderr)
        sys.exit(1)
    want_matplotlib()
    d = sys.argv[1]
    configs, workloads, cells = load(os.path.join(d, "results.csv"))
    md = markdown(configs, workloads, cells)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)
    plot(os.path.join(d, "results.png"), configs, workloads, cells)


if __name__ == "__main__":
    main()
