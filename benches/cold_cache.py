#!/usr/bin/env python3
"""How much of `assay generate`'s time in benches/generate.sh's interleaved
rounds is the caches the command before it evicted (docs/benchmarks.md).

Times one `assay generate` right after each of: itself (warm caches),
/bin/true, `kubectl kustomize` (the Go process it is compared with), and a
process that only writes 64 MiB (evicts the caches, nothing else). Run from
benches/generate.sh's environment:

    benches/cold_cache.py ASSAY APP_DIR KUBECTL OVERLAY [ROUNDS]

Prints the median wall and CPU time of assay after each, and its minor page
faults (which should not move: the binary's pages stay in the page cache).
"""
import os
import random
import statistics
import sys

from timing import spawn_timed  # benches/timing.py, beside this file

assay, app, kubectl, overlay = sys.argv[1:5]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 100
flush = [sys.executable, "-c", "b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1"]
before = {
    "itself": [assay, "generate", app],
    "/bin/true": ["/bin/true"],
    "kubectl kustomize": [kubectl, "kustomize", overlay],
    "64 MiB written": flush,
}
devnull = os.open(os.devnull, os.O_WRONLY)


def run(argv):
    """Wall ms, CPU ms and minor faults of one run."""
    ns, cpu_ns, faults = spawn_timed(argv, devnull)
    return ns / 1e6, cpu_ns / 1e6, faults


results = {k: [] for k in before}
for _ in range(rounds):
    keys = list(before)
    random.shuffle(keys)
    for k in keys:
        run(before[k])
        results[k].append(run(before["itself"]))

print("| assay generate right after | wall median ms | CPU median ms | minor faults |")
print("|---|---:|---:|---:|")
for k, v in results.items():
    wall = statistics.median(x[0] for x in v)
    cpu = statistics.median(x[1] for x in v)
    faults = statistics.median(x[2] for x in v)
    print(f"| {k} | {wall:.2f} | {cpu:.2f} | {faults:.0f} |")
