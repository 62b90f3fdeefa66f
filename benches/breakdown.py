#!/usr/bin/env python3
"""Where a short-lived process's time and memory go: runs NAME=COMMAND pairs
interleaved (each once per round, rotating order) and prints, per command,
wall time (mean, median, min), the child's CPU time and minor page faults
(wait4), and peak RSS (largest `/usr/bin/time -f %M`).

    breakdown.py [--rounds N] [--rss-runs N] NAME=COMMAND...

docs/benchmarks.md uses it to split `assay generate` into exec + loader,
argument parsing, and the work itself, and to compare build profiles, e.g.

    breakdown.py true=/bin/true version="$A --version" \\
        steady="$A generate steady-dir" candidate="$A generate candidate-dir"
"""

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time


def run(argv, devnull):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"breakdown.py: {shlex.join(argv)} failed")
    return (t1 - t0) / 1e6, (ru.ru_utime + ru.ru_stime) * 1e3, ru.ru_minflt


def peak_rss(argv, runs):
    peak = 0
    for _ in range(runs):
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, check=True)
        peak = max(peak, int(r.stderr.split()[-1]))
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rss-runs", type=int, default=10)
    ap.add_argument("commands", nargs="+")
    args = ap.parse_args()
    names, cmds = [], []
    for spec in args.commands:
        name, _, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        argv[0] = shutil.which(argv[0]) or sys.exit(f"breakdown.py: {argv[0]} not found")
        names.append(name)
        cmds.append(argv)
    devnull = os.open(os.devnull, os.O_WRONLY)
    res = {n: [] for n in names}
    for r in range(args.warmup + args.rounds):
        for i in range(len(names)):
            j = (r + i) % len(names)
            m = run(cmds[j], devnull)
            if r >= args.warmup:
                res[names[j]].append(m)
    print("| command | wall mean ms | median ms | min ms | CPU ms | minor faults | peak RSS KB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, c in zip(names, cmds):
        wall = [x[0] for x in res[n]]
        cpu = statistics.fmean(x[1] for x in res[n])
        flt = statistics.median(x[2] for x in res[n])
        print(f"| {n} | {statistics.fmean(wall):.2f} | {statistics.median(wall):.2f} | "
              f"{min(wall):.2f} | {cpu:.2f} | {flt:.0f} | {peak_rss(c, args.rss_runs):,} |")


if __name__ == "__main__":
    main()
