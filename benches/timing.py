#!/usr/bin/env python3
"""Interleaved whole-process timing for benches/generate.sh.

    timing.py [--rounds N] [--warmup N] [--rss-runs N] [--hyperfine-runs N]
              NAME=COMMAND...

Each round runs every command once, in an order that rotates from round to
round, so slow drift of the machine (frequency, cache, noisy neighbours)
affects every command alike. A run is timed from just before posix_spawn to
just after wait4 (stdout to /dev/null); the first command is the one the
ratios are relative to. Peak RSS is the largest `/usr/bin/time -f %M` over
--rss-runs separate runs (wait4's ru_maxrss is no use here: a posix_spawn
child exec's from Python's address space, whose high-water mark it inherits).
If hyperfine is installed it is run on the same commands as a cross-check.

Prints markdown: the results table, the hyperfine table, and the target
checks for assay (the first command) against `kubectl kustomize` (the
command named `kustomize`); `/bin/true` (named `true`) is the floor.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Issue 11's targets. (Its start-up target, ≤ 3× /bin/true, was withdrawn;
# /bin/true stays in the tables as the floor of a process's cost.)
FASTER_THAN_KUSTOMIZE = 30.0
MAX_RSS_KB = 10 * 1024  # 10 MiB


def spawn_timed(argv, devnull):
    """Wall time in ns, user+system CPU time in ns and minor page faults of
    one run; fails on a non-zero exit."""
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"timing.py: {shlex.join(argv)} failed ({status:#x})")
    return t1 - t0, round((ru.ru_utime + ru.ru_stime) * 1e9), ru.ru_minflt


def peak_rss_kb(argv, runs):
    """Largest max-RSS (KiB) that GNU time reports over `runs` runs."""
    peak = 0
    for _ in range(runs):
        r = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
        peak = max(peak, int(r.stderr.strip().splitlines()[-1]))
    return peak


def p95(xs):
    return statistics.quantiles(xs, n=20, method="inclusive")[18]


def summary(ns, cpu_ns=None):
    ms = [x / 1e6 for x in ns]
    return {
        "cpu": statistics.fmean(cpu_ns) / 1e6 if cpu_ns else None,
        "mean": statistics.fmean(ms),
        "median": statistics.median(ms),
        "p95": p95(ms),
        "min": min(ms),
        "stdev": statistics.stdev(ms),
    }


def table(names, stats, rss=None):
    base = stats[names[0]]["mean"]
    head = "| command | mean ms | median ms | p95 ms | min ms | σ ms | CPU ms | mean ÷ assay mean |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|"
    if rss is not None:
        head += " peak RSS KB |"
        rule += "---:|"
    lines = [head, rule]
    for n in names:
        s = stats[n]
        row = (
            f"| `{n}` | {s['mean']:.2f} | {s['median']:.2f} | {s['p95']:.2f} | "
            f"{s['min']:.2f} | {s['stdev']:.2f} | {s['cpu']:.2f} | {s['mean'] / base:.2f}× |"
        )
        if rss is not None:
            row += f" {rss[n]:,} |"
        lines.append(row)
    return "\n".join(lines)


def checks(stats, rss, label):
    a, k = stats["assay"], stats["kustomize"]
    out = []

    def line(ok, text):
        out.append(f"- **{'PASS' if ok else 'FAIL'}** {text}")

    for stat in ("mean", "median"):
        speedup = k[stat] / a[stat]
        line(
            speedup >= FASTER_THAN_KUSTOMIZE,
            f"≥ {FASTER_THAN_KUSTOMIZE:.0f}× faster than kubectl kustomize ({label}, {stat}): "
            f"{speedup:.1f}× ({k[stat]:.2f} ms vs {a[stat]:.2f} ms)",
        )
    if rss is not None:
        line(
            rss["assay"] <= MAX_RSS_KB,
            f"peak RSS ≤ 10 MiB ({MAX_RSS_KB:,} KB): {rss['assay']:,} KB",
        )
    return "\n".join(out)


def hyperfine(names, cmds, warmup, runs):
    exe = shutil.which("hyperfine")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "hyperfine.json")
        argv = [exe, "-N", "--style", "basic", "--warmup", str(warmup), "--runs", str(runs),
                "--export-json", out]
        for n, c in zip(names, cmds):
            argv += ["--command-name", n, shlex.join(c)]
        subprocess.run(argv, check=True, stdout=sys.stderr)
        with open(out) as f:
            results = json.load(f)["results"]
    out = {}
    for n, r in zip(names, results):
        out[n] = summary([t * 1e9 for t in r["times"]])
        out[n]["cpu"] = (r["user"] + r["system"]) * 1e3  # hyperfine's means, in s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rss-runs", type=int, default=20)
    ap.add_argument("--hyperfine-runs", type=int, default=300)
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()

    names, cmds = [], []
    for spec in args.commands:
        name, _, cmd = spec.partition("=")
        argv = shlex.split(cmd)
        argv[0] = shutil.which(argv[0]) or sys.exit(f"timing.py: {argv[0]} not found")
        names.append(name)
        cmds.append(argv)
    for need in ("assay", "kustomize", "true"):
        if need not in names:
            sys.exit(f"timing.py: no command named {need}")

    devnull = os.open(os.devnull, os.O_WRONLY)
    times = {n: [] for n in names}
    cpu = {n: [] for n in names}
    k = len(names)
    for r in range(args.warmup + args.rounds):
        for i in range(k):
            j = (r + i) % k
            ns, cpu_ns, _ = spawn_timed(cmds[j], devnull)
            if r >= args.warmup:
                times[names[j]].append(ns)
                cpu[names[j]].append(cpu_ns)
    stats = {n: summary(times[n], cpu[n]) for n in names}

    rss = {n: peak_rss_kb(c, args.rss_runs) for n, c in zip(names, cmds)}

    print(f"### Interleaved: {args.rounds} rounds (after {args.warmup} warm-up rounds), "
          f"each command once per round in rotating order\n")
    print(table(names, stats, rss))
    print(f"\nTimes are wall-clock from spawn to reaped child; CPU ms is the child's user + system time "
          f"(from wait4). Peak RSS: largest `/usr/bin/time -f %M` over {args.rss_runs} runs each.\n")

    hf = None
    if args.hyperfine_runs <= 0:
        # hyperfine's own --runs 0 would not stop; 0 means no cross-check.
        print("### hyperfine: cross-check skipped (--hyperfine-runs 0)\n")
    elif (hf := hyperfine(names, cmds, args.warmup, args.hyperfine_runs)) is None:
        print("### hyperfine: not installed (`apt-get install -y hyperfine`); cross-check skipped\n")
    else:
        print(f"### hyperfine -N cross-check: --warmup {args.warmup} --runs {args.hyperfine_runs}, "
              "one command after another (not interleaved)\n")
        print(table(names, hf))
        print()

    print("### Targets\n")
    print(checks(stats, rss, "interleaved"))
    if hf is not None:
        print(checks(hf, None, "hyperfine"))


if __name__ == "__main__":
    main()
