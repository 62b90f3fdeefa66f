#!/usr/bin/env python3
"""Interleaved whole-process timing for benches/adopt.sh.

    adopt_timing.py [--rounds N] [--warmup N] assay=COMMAND kustomize=COMMAND

Each round runs both commands once, in alternating order, so drift of the
machine hits both alike. A run is timed from just before posix_spawn to just
after wait4 (stdout to /dev/null). Prints a markdown table and the issue's
target: assay's overhead over the tool it wraps, (assay - kustomize) /
kustomize, at most 10 %, by mean and by median.
"""

import argparse
import os
import shlex
import shutil
import statistics
import sys

from timing import spawn_timed  # benches/timing.py, beside this file

MAX_OVERHEAD = 0.10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("commands", nargs=2, metavar="NAME=COMMAND")
    args = ap.parse_args()
    cmds = {}
    for spec in args.commands:
        name, _, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        argv[0] = shutil.which(argv[0]) or sys.exit(f"{argv[0]} not found")
        cmds[name] = argv
    if set(cmds) != {"assay", "kustomize"}:
        sys.exit("adopt_timing.py: need assay=… and kustomize=…")
    names = ["assay", "kustomize"]
    devnull = os.open(os.devnull, os.O_WRONLY)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(args.warmup + args.rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            ns, cpu_ns, _ = spawn_timed(cmds[n], devnull)
            if r >= args.warmup:
                wall[n].append(ns / 1e6)
                cpu[n].append(cpu_ns / 1e6)
    print(f"### Interleaved: {args.rounds} rounds after {args.warmup} warm-up, alternating order\n")
    print("| command | mean ms | median ms | p95 ms | min ms | σ ms | CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in names:
        xs = wall[n]
        p95 = statistics.quantiles(xs, n=20, method="inclusive")[18]
        print(f"| `{n}` | {statistics.fmean(xs):.2f} | {statistics.median(xs):.2f} | {p95:.2f} | "
              f"{min(xs):.2f} | {statistics.stdev(xs):.2f} | {statistics.fmean(cpu[n]):.2f} |")
    print()
    for stat, f in (("mean", statistics.fmean), ("median", statistics.median)):
        a, k = f(wall["assay"]), f(wall["kustomize"])
        over = (a - k) / k
        ok = "PASS" if over <= MAX_OVERHEAD else "FAIL"
        print(f"- **{ok}** overhead over kubectl kustomize ≤ {MAX_OVERHEAD:.0%} ({stat}): "
              f"{over:+.1%} ({a:.2f} ms vs {k:.2f} ms, {a - k:+.2f} ms)")


if __name__ == "__main__":
    main()
