"""The markdown report of benches/promote_timing.py's rounds: what
benches/promote.sh prints and docs/benchmarks-promote.md records."""

import shlex
import statistics


def p95(xs):
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def stats(xs):
    return {"mean": statistics.fmean(xs), "median": statistics.median(xs), "p95": p95(xs),
            "min": min(xs), "max": max(xs)}


def counts(xs):
    """'4' when every run agrees, else '4–6'."""
    lo, hi = min(xs), max(xs)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def med_offset(P):
    return statistics.median(r.offset_ms for rs in P.values() for r in rs)


def report(a, variants, results, load, elapsed, custom_objectives):
    P = {v.name: results[("promote", v.name)] for v in variants}
    print(f"### Deadline → pushed verdict commit: {a.rounds} round{'s' * (a.rounds != 1)} "
          f"(after {a.warmup} warm-up), "
          "order rotating each round\n")
    print(f"Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} "
          f"({elapsed:.0f} s for all rounds).\n")
    print("| variant | verdict | objectives | queries per look | served by Prometheus | "
          "mean ms | median ms | p95 ms | min ms | max ms | to exit, median ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for v in variants:
        rs = P[v.name]
        s = stats([r.commit_ms for r in rs])
        print(f"| {v.name} | {v.verdict} | {v.objectives} | {counts([r.queries for r in rs])} | "
              f"{counts([r.served for r in rs])} | {s['mean']:.0f} | {s['median']:.0f} | "
              f"{s['p95']:.0f} | {s['min']:.0f} | {s['max']:.0f} | "
              f"{statistics.median([r.exit_ms for r in rs]):.0f} |")
    print()
    print("The time runs from the deadline to the arrival of assay's `verdict … committed as "
          "<sha>` line on stderr. The harness waits for the wall clock to turn a whole second, "
          "spawns `assay promote` at once with `--started-at` = that second − (warmup + "
          "duration), so the deadline is a whole second (as a Job's startTime is) and falls "
          f"{med_offset(P):.2f} ms (median) before the spawn; that gap is included. The line is "
          "printed after the push was accepted; \"to exit\" is to the reaped process. "
          "\"queries per look\" is what assay's progress line says; \"served by Prometheus\" is "
          "the growth of Prometheus' own `/api/v1/query` request counter over the run. Every run "
          "was checked: exit 0, exactly one look (the final one) with the expected verdict, and "
          "main one commit ahead of the candidate with `Assay-Experiment: <id>` and "
          "`Assay-Verdict: <verdict>`.\n")

    print("#### Where the time goes (medians, ms after the spawn)\n")
    print("| variant | start-up: spawn → `experiment` line | → `look 1` line: Git poll + queries "
          "| of which Prometheus query time (server side) | → `committed` line: write-back | "
          "→ exit | client CPU ms | git daemon CPU ms | Prometheus CPU ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    med = statistics.median
    for v in variants:
        rs = P[v.name]
        st = med([r.phases["start"] for r in rs])
        lk = med([r.phases["look"] - r.phases["start"] for r in rs])
        cm = med([r.phases["commit"] - r.phases["look"] for r in rs])
        ex = med([r.wall - r.phases["commit"] for r in rs])
        print(f"| {v.name} | {st:.1f} | {lk:.1f} | {med([r.query_ms for r in rs]):.1f} | "
              f"{cm:.1f} | {ex:.1f} | {med([r.cpu for r in rs]):.0f} | "
              f"{med([r.daemon_cpu for r in rs]):.0f} | {med([r.prom_cpu for r in rs]):.0f} |")
    print()
    print("Each column is the median of that phase's own duration. Start-up covers exec, "
          "reading the Experiment and the first (no-op, no cluster) status write. The poll is an "
          "ls-remote of main plus, on the first look, a depth-1 fetch to read assay.yaml. "
          "Query time is Prometheus' `prometheus_http_request_duration_seconds_sum` for "
          "`/api/v1/query` over the run. CPU: user+system of assay (wait4), of git daemon's "
          "reaped children, and of the Prometheus process.\n")

    print("#### The same steps alone (same rounds, interleaved)\n")
    print("| command | variant | mean ms | median ms | p95 ms | queries served | "
          "Prometheus query time, median ms | client CPU, median ms | git daemon CPU, median ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ("judge", "writeback"):
        for v in variants:
            rs = results.get((kind, v.name))
            if not rs:
                continue
            s = stats([r.wall for r in rs])
            print(f"| `assay {kind}` | {v.name} | {s['mean']:.0f} | {s['median']:.0f} | "
                  f"{s['p95']:.0f} | {counts([r.served for r in rs])} | "
                  f"{med([r.query_ms for r in rs]):.1f} | {med([r.cpu for r in rs]):.0f} | "
                  f"{med([r.daemon_cpu for r in rs]):.0f} |")
    print()
    print("Wall time spawn → reaped. `assay judge` runs the same final look over the same window "
          "(`--at` = a whole second just passed, `--started-at` = that − warmup − duration) "
          "with `--output json`, checked "
          "for the expected verdict; `assay writeback` writes the same verdict, reason and "
          "evidence after main was reset to the candidate, checked like promote's commit.\n")

    print("Per-round deadline → commit (ms), in run order:\n")
    print("| round | " + " | ".join(v.name for v in variants) + " |")
    print("|---:|" + "---:|" * len(variants))
    for i in range(a.rounds):
        print(f"| {i + 1} | " + " | ".join(f"{P[v.name][i].commit_ms:.0f}" for v in variants) + " |")
    print()
    print("Commands (`@DEADLINE@` = the whole second the run starts in, `@STARTED@` = that "
          "− warmup − duration, RFC 3339; "
          "paths shortened):\n")
    shown = {}
    for (kind, name), rs in results.items():
        argv = list(rs[0].argv)
        argv[0] = "target/release/assay"
        t = [x for x in argv]
        for i, x in enumerate(t):
            if i > 0 and t[i - 1] in ("--started-at",):
                t[i] = "@STARTED@"
            if i > 0 and t[i - 1] == "--at":
                t[i] = "@DEADLINE@"
            t[i] = t[i].replace(a.workdir + "/", "")
        shown[(kind, name)] = shlex.join(t)
    for v in variants:
        print(f"- {v.name} (candidate {v.version}, experiment `{v.id}`):")
        for kind in ("promote", "judge", "writeback"):
            if (kind, v.name) in shown:
                print(f"  - `{shown[(kind, v.name)]}`")
    print()
    custom = next(v for v in variants if v.custom)
    print(f"The custom variant's extra objectives and metrics (in `spec.experiment`; "
          f"experiment `{custom.id}`):\n")
    print("```yaml\n" + custom_objectives + "```\n")
