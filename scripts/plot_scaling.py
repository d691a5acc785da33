#!/usr/bin/env python3
"""Plot fan-out scaling from the result files of scripts/bench-sweep.sh.

    python3 scripts/plot_scaling.py [-o docs/scaling.png] [FILE|DIR|GLOB ...]

Arguments are result files, directories (their *.json) or glob patterns;
the default is bench/results/sweep. Files are grouped by server: the part of
the label before "-sweep" (labels look like "ours-sweep-s5000").

Draws one PNG with two panels against the subscriber count:
  (a) delivery latency p50 and p99 (ms, log scale);
  (b) server CPU per delivery, server_cpu_s * 1e6 / delivered_unique (µs).
Repeated runs of one server and count are all drawn as points; the line goes
through their median. Runs that lost or duplicated deliveries (complete is
false) get a hollow marker.

Prints a markdown table of every run to stdout, for BENCHMARKS.md.
Needs matplotlib (python3 -m pip install matplotlib).
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def result_files(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files += sorted(glob.glob(os.path.join(a, "*.json")))
        elif os.path.exists(a):
            files.append(a)
        else:
            found = sorted(glob.glob(a))
            if not found:
                print(f"plot_scaling: nothing matches {a}", file=sys.stderr)
            files += found
    return list(dict.fromkeys(files))


def load_run(path):
    """One row per result file, or None when it is not a sweep run."""
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot_scaling: skipping {path}: {e}", file=sys.stderr)
        return None
    label = res.get("label", "")
    if "-sweep" not in label:
        print(f"plot_scaling: skipping {path}: label {label!r} is not a sweep label",
              file=sys.stderr)
        return None
    fr = (res.get("modes") or {}).get("fanout_rate") or {}
    params, lat, cpu, dl = (fr.get(k) or {} for k in ("params", "latency", "cpu", "delivery"))
    subs = params.get("subscribers")
    if subs is None:  # a run that timed out has no params; the label has the count
        m = re.search(r"-s(\d+)", label)
        subs = int(m.group(1)) if m else None
    if subs is None:
        print(f"plot_scaling: skipping {path}: no subscriber count", file=sys.stderr)
        return None
    delivered = dl.get("delivered_unique") or 0
    cpu_s = cpu.get("server_cpu_s")
    return {
        "file": path,
        "server": label.split("-sweep")[0],
        "subs": subs,
        "rate": params.get("rate"),
        "msgs": params.get("messages"),
        "p50": lat.get("p50_ms"),
        "p99": lat.get("p99_ms"),
        "us_per_delivery": cpu_s * 1e6 / delivered if cpu_s is not None and delivered else None,
        "complete": bool(dl.get("complete")),
        "error": fr.get("error") or (None if dl else "no delivery figures"),
    }


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def print_table(runs):
    print("| subscribers | server | p50 ms | p99 ms | server CPU µs/delivery | complete |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for r in sorted(runs, key=lambda r: (r["subs"], r["server"], r["file"])):
        complete = "yes" if r["complete"] else "no" + (f" ({r['error']})" if r["error"] else "")
        print(f"| {r['subs']} | {r['server']} | {fmt(r['p50'], '.1f')} | {fmt(r['p99'], '.1f')} "
              f"| {fmt(r['us_per_delivery'], '.1f')} | {complete} |")


def describe(values, unit):
    vals = sorted({v for v in values if v is not None})
    if not vals:
        return None
    return "/".join(f"{v:g}" for v in vals) + unit


def plot(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    by_server = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by_server[r["server"]][r["subs"]].append(r)
    styles = [("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^"),
              ("tab:red", "D"), ("tab:purple", "v"), ("tab:brown", "P")]

    fig, (ax_lat, ax_cpu) = plt.subplots(1, 2, figsize=(12, 5))
    for i, server in enumerate(sorted(by_server)):
        color, marker = styles[i % len(styles)]
        points = by_server[server]
        xs = sorted(points)
        for ax, key, ls, name in ((ax_lat, "p50", "-", " p50"), (ax_lat, "p99", "--", " p99"),
                                  (ax_cpu, "us_per_delivery", "-", "")):
            line_x, line_y = [], []
            for x in xs:
                ys = [r[key] for r in points[x] if r[key] is not None]
                if ys:
                    line_x.append(x)
                    line_y.append(statistics.median(ys))
            ax.plot(line_x, line_y, color=color, linestyle=ls, marker=marker, markersize=6,
                    label=server + name)
            for x in xs:  # every run of a repeated count, and runs that were not complete
                for r in points[x]:
                    if r[key] is not None and (len(points[x]) > 1 or not r["complete"]):
                        ax.plot([x], [r[key]], marker=marker, color=color, linestyle="none",
                                markersize=8, zorder=3,
                                markerfacecolor=color if r["complete"] else "white")

    rate = describe((r["rate"] for r in runs), " msg/s") or "fixed rate"
    msgs = describe((r["msgs"] for r in runs), " messages")
    fig.suptitle(f"Fan-out to one channel at {rate}" + (f", {msgs} per run" if msgs else "")
                 + ": how each server scales with subscribers")
    ticks = sorted({r["subs"] for r in runs})
    ax_lat.set_yscale("log")
    ax_lat.yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    ax_lat.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax_lat.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax_lat.set_title("(a) delivery latency, publish → subscriber")
    ax_lat.set_ylabel("latency (ms, log scale)")
    ax_cpu.set_title("(b) server CPU per delivery")
    ax_cpu.set_ylabel("server CPU (µs per delivery)")
    ax_cpu.set_ylim(bottom=0)
    for ax in (ax_lat, ax_cpu):
        ax.set_xlabel("subscribers")
        ax.set_xticks(ticks, [f"{t / 1000:g}k" if t >= 1000 else str(t) for t in ticks])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    if not all(r["complete"] for r in runs):
        fig.text(0.5, 0.01, "hollow markers: runs with missing or duplicate deliveries",
                 ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"plot_scaling: wrote {out}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*", help="result files, directories or globs "
                    "[bench/results/sweep]")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "docs", "scaling.png"),
                    help="PNG to write [docs/scaling.png]")
    a = ap.parse_args()
    runs = [r for r in map(load_run, result_files(a.inputs or [os.path.join(ROOT, "bench", "results", "sweep")])) if r]
    if not runs:
        print("plot_scaling: no sweep results found", file=sys.stderr)
        return 1
    for server in sorted({r["server"] for r in runs}):
        rates = {(r["rate"], r["msgs"]) for r in runs if r["server"] == server and r["rate"] is not None}
        if len(rates) > 1:
            print(f"plot_scaling: warning: {server} runs differ in rate/messages: {sorted(rates)}",
                  file=sys.stderr)
    print_table(runs)
    plot(runs, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
