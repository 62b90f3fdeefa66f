#!/usr/bin/env python3
"""Fixture, runs and report for benches/timeline.sh (see there for the servers).

    timeline.py metrics --past S --future S --out FILE
    timeline.py run --assay BIN --daemon-url git://127.0.0.1:PORT --srv DIR \
        --prometheus URL --sample samples/bookinfo --workdir DIR

`metrics`: Istio's metrics as benches/promote_timing.py generates them
(straight lines on a 15 s grid, both reporters, 20 ms per request), with
the sample's traffic shape: 48 qps at a 20 % candidate weight, so the
baseline productpage-v1 serves 38.4 req/s without errors and each candidate
9.6 req/s: productpage-v2 without errors, -v3 at 0.5 % (half the 1 %
limit), -v4 at 2 % and -v5 at 5 %.

`run`: one bare env repository per run, seeded like promote_timing.py does
(samples/bookinfo with `mode: push`, then `assay candidate set --version vN`
as CI would) and rendered with `assay generate` under Argo CD's environment.
Then the REAL `assay promote --experiment rendered.yaml --prometheus URL`
for each candidate, twice:

- new flow: no `--started-at`, so the window opens at the hook's start +
  warmup (the sidecar flow: the load starts with the hook), looks every
  interval, commits as soon as it decides;
- old flow: `--started-at` = hook start − 3 s − (warmup + duration), i.e. the
  load Job ran its whole window and completed 3 s before the PostSync hook
  started: the first look is the last, after the 30 s settle.

Every run is spawned just after a whole second (assay's clock is whole
seconds) and measured in real time from the spawn (the hook's start) to the
verdict commit's arrival on the remote (its ref polled every 20 ms) and to
the `committed as` line on stderr; the decisive look is read from stderr.
The Argo CD and cluster steps around it are added as constants (SIM below,
with their sources). Prints markdown on stdout, progress on stderr.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from promote_timing import (APP, NO_CREDENTIALS, NS, STEP, checked, die,  # noqa: E402
                            git, log, loadavg, propose, rfc3339_ms, seconds,
                            write_openmetrics)

QPS, WEIGHT, LIMIT = 48.0, 0.20, 0.01
BASELINE = ("productpage-v1", QPS * (1 - WEIGHT), 0.0)
# (label, version, multiple of the limit)
CANDIDATES = [("0", "v2", 0.0), ("0.5×", "v3", 0.5), ("2×", "v4", 2.0), ("5×", "v5", 5.0)]

# The simulated steps, seconds; every one is an assumption or a documented
# figure, stated with its source in the report (and in timeline.sh).
SIM = {
    # sync → every Deployment Healthy: image cached on the node, readiness
    # probe passing within a few periods (chosen figure).
    "healthy": 20.0,
    # Healthy → the PostSync hook pod running: Argo CD's next operation
    # reconcile creates the hook Job, the pod is scheduled and started
    # (chosen figure).
    "hook": 3.0,
    # new flow, commit → verdict applied: the hook's refresh request makes
    # Argo CD re-read Git at once, the hook pod ends, the operation
    # finishes and auto-sync applies the new weights (typical, worst).
    "refresh": (5.0, 10.0),
    # old flow, commit → Argo CD notices: repo polling every 120 s + up to
    # 60 s jitter, refs cached up to 3 min (JUDGING.md §4: "typically 2–3
    # min, up to ~6"): mean 150 s, worst 360 s; then the auto-sync applies
    # it (5 s).
    "poll": (150.0, 360.0),
    "apply": 5.0,
}
SETTLE = 30.0

LOOK = re.compile(r"look (\d+) \((\d+)s of (\d+)s, (\d+) queries\): (\w+): (.*)$")


# --- metrics ------------------------------------------------------------------


def workloads():
    yield BASELINE
    for _, version, k in CANDIDATES:
        yield (f"productpage-{version}", QPS * WEIGHT, k * LIMIT)


def metrics(a):
    write_openmetrics(a.out, list(workloads()), a.past, a.future)


# --- the env repositories -----------------------------------------------------


class Case:
    def __init__(self, label, version, k, duration, flow, phase=None):
        self.label, self.version, self.k, self.flow = label, version, k, flow
        self.duration = duration  # None: the sample's
        # None: start at the next whole second; else at a whole second
        # that is `phase` s past a 15 s scrape of the backfilled grid.
        self.phase = phase
        d = f"-{duration}" if duration else ""
        p = f"-phase{phase}" if phase is not None else ""
        self.slug = f"{flow}-{version}{d}{p}"


def seed(a, c):
    """A bare repo srv/<slug>.git: the sample (mode push; duration changed if
    asked), then CI's candidate commit on main; rendered as Argo CD would."""
    bare = os.path.join(a.srv, f"{c.slug}.git")
    git("init", "-q", "--bare", "-b", "main", bare)
    git("--git-dir", bare, "config", "gc.auto", "0")
    work = os.path.join(a.workdir, c.slug)
    os.makedirs(os.path.join(work, APP))
    git("init", "-q", "-b", "main", cwd=work)
    for name in sorted(os.listdir(a.sample)):
        src = os.path.join(a.sample, name)
        if not os.path.isfile(src):
            continue
        text = open(src, encoding="utf-8").read()
        if name == "assay.yaml":
            if "mode: pull-request" not in text:
                die("the sample's assay.yaml has no `mode: pull-request`")
            text = text.replace("mode: pull-request", "mode: push")
            if c.duration:
                if "    duration: 5m\n" not in text:
                    die("the sample's assay.yaml has no `duration: 5m`")
                text = text.replace("    duration: 5m\n", f"    duration: {c.duration}\n")
        with open(os.path.join(work, APP, name), "w", encoding="utf-8") as f:
            f.write(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Initial import of samples/bookinfo", cwd=work)
    c.commit, c.id, spec = propose(a.assay, a.workdir, work, c.slug, c.version)
    c.warmup = seconds(re.search(r"(?m)^    warmup: (\S+)$", spec).group(1))
    c.window_s = seconds(re.search(r"(?m)^    duration: (\S+)$", spec).group(1))
    c.interval = seconds(re.search(r"(?m)^    interval: (\S+)$", spec).group(1))
    url = f"{a.daemon_url}/{c.slug}.git"
    rendered = checked([a.assay, "generate"], cwd=os.path.join(work, APP), env={
        "PATH": os.environ["PATH"],
        "ARGOCD_APP_NAME": "bookinfo",
        "ARGOCD_APP_NAMESPACE": NS,
        "ARGOCD_APP_SOURCE_REPO_URL": url,
        "ARGOCD_APP_SOURCE_PATH": APP,
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "ARGOCD_APP_PARAMETERS": "null",
    })
    if "kind: Experiment" not in rendered:
        die(f"assay generate rendered no Experiment for {c.slug}")
    c.rendered = os.path.join(a.workdir, f"rendered-{c.slug}.yaml")
    open(c.rendered, "w", encoding="utf-8").write(rendered)
    git("push", "-q", bare, f"{c.commit}:refs/heads/main", cwd=work)
    c.bare = bare


def remote_main(bare):
    try:
        with open(os.path.join(bare, "refs", "heads", "main")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return git("--git-dir", bare, "rev-parse", "refs/heads/main").strip()


# --- one run ------------------------------------------------------------------


class Run(threading.Thread):
    """`assay promote` for one case, spawned just after a whole second;
    stderr lines and the remote ref's change timed from the spawn."""

    def __init__(self, a, c, limit):
        super().__init__(daemon=True)
        self.a, self.c, self.limit = a, c, limit
        self.lines, self.ref_at, self.code = [], None, None

    def run(self):
        a, c = self.a, self.c
        wall = time.time()
        target = int(wall) + 1
        if c.phase is not None:
            target += (c.phase - target) % STEP
        time.sleep(max(0.0, target - wall))
        spawn_s = int(time.time())
        argv = [a.assay, "promote", "--experiment", c.rendered, "--prometheus", a.prometheus,
                "--credentials", NO_CREDENTIALS]
        if c.flow == "old":
            # The load Job completed SIM["hook"] s before the hook started.
            started = (spawn_s - SIM["hook"] - c.warmup - c.window_s) * 1000
            argv += ["--started-at", rfc3339_ms(started)]
        self.argv = argv
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={"PATH": os.environ["PATH"], "HOME": a.home})
        self.spawn_offset = time.time() - spawn_s
        done = threading.Event()

        def watch_ref():
            while not done.is_set() or self.ref_at is None:
                if remote_main(c.bare) != c.commit:
                    self.ref_at = time.monotonic() - t0
                    return
                if done.is_set():
                    return
                time.sleep(0.02)

        w = threading.Thread(target=watch_ref, daemon=True)
        w.start()
        killer = threading.Timer(self.limit, p.kill)
        killer.start()
        for raw in p.stderr:
            self.lines.append((time.monotonic() - t0, raw.decode(errors="replace").rstrip("\n")))
        self.code = p.wait()
        self.wall = time.monotonic() - t0
        killer.cancel()
        time.sleep(0.1)
        done.set()
        w.join()

    def result(self):
        c = self.c
        err = "\n".join(l for _, l in self.lines)
        if self.code != 0:
            die(f"{c.slug}: assay promote exited {self.code} after {self.wall:.0f} s "
                f"(limit {self.limit:.0f} s):\n{err}")
        looks = [(t, LOOK.search(l)) for t, l in self.lines]
        looks = [(t, m) for t, m in looks if m]
        if not looks:
            die(f"{c.slug}: no look:\n{err}")
        t_look, last = looks[-1]
        verdict = last.group(5)
        if verdict not in ("promote", "reject"):
            die(f"{c.slug}: the last look did not decide:\n{err}")
        committed = [(t, re.search(r"committed as ([0-9a-f]{40})", l)) for t, l in self.lines]
        committed = [(t, m.group(1)) for t, m in committed if m]
        if not committed or self.ref_at is None:
            die(f"{c.slug}: no verdict commit:\n{err}")
        head = remote_main(c.bare)
        if head != committed[0][1] or git("--git-dir", c.bare, "rev-parse",
                                          f"{head}^").strip() != c.commit:
            die(f"{c.slug}: main ({head}) is not the reported commit on the candidate")
        body = git("--git-dir", c.bare, "log", "-1", "--format=%B", head).splitlines()
        for want in (f"Assay-Experiment: {c.id}", f"Assay-Verdict: {verdict}"):
            if want not in body:
                die(f"{c.slug}: the commit lacks {want!r}")
        return {
            "verdict": verdict, "look": int(last.group(1)), "look_s": int(last.group(2)),
            "looks": len(looks), "t_look": t_look, "ref": self.ref_at,
            "line": committed[0][0], "exit": self.wall, "reason": last.group(6),
        }


def batch(a, cases):
    runs = []
    for c in cases:
        # Bounded: the window + settle + 2 min, at most 10 min.
        limit = min(c.warmup + c.window_s + SETTLE + 120, 600)
        runs.append(Run(a, c, limit))
    for r in runs:
        r.start()
    for r in runs:
        r.join()
    out = {}
    for r in runs:
        res = r.result()
        log(f"{r.c.slug}: {res['verdict']} at look {res['look']} ({res['look_s']} s), "
            f"commit on the remote {res['ref']:.2f} s after the hook started")
        out[r.c.slug] = (r, res)
    return out


# --- report -------------------------------------------------------------------


def collapse(lines):
    """`t  line`, a run of the same line as its first and last time and count."""
    out, i = [], 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1][1] == lines[i][1]:
            j += 1
        t, l = lines[i]
        if j - i >= 2:
            out.append(f"{t:7.2f}  {l}  (× {j - i + 1}, the last at {lines[j][0]:.2f})")
        else:
            out += [f"{u:7.2f}  {m}" for u, m in lines[i:j + 1]]
        i = j + 1
    return out


def fmt(s):
    m, sec = divmod(round(s), 60)
    return f"{round(s)} s ({m}:{sec:02d})"


def run(a):
    os.makedirs(a.workdir)
    a.home = os.path.join(a.workdir, "home")
    os.makedirs(a.home)
    cases = []
    for flow in ("old", "new"):
        for label, version, k in CANDIDATES:
            cases.append(Case(label, version, k, None, flow))
        cases.append(Case("5×", "v5", 5.0, "30m", flow))
    # The new flow's first look with data depends on where the hook starts
    # against Prometheus' 15 s scrapes (increase() needs two samples in its
    # range): the 5× candidate at five phases of the grid.
    for phase in range(0, STEP, 3):
        cases.append(Case("5×", "v5", 5.0, None, "new", phase))
    for c in cases:
        seed(a, c)
    log(f"{len(cases)} env repos seeded and rendered")
    load = [loadavg()]
    t_start = time.monotonic()
    # Old flow first (each ~30 s: the settle), then the new flow, each batch
    # concurrently (they are separate repos and workloads; the hooks mostly sleep).
    got = batch(a, [c for c in cases if c.flow == "old"])
    load.append(loadavg())
    got.update(batch(a, [c for c in cases if c.flow == "new"]))
    load.append(loadavg())
    elapsed = time.monotonic() - t_start
    report(a, cases, got, load, elapsed)


def report(a, cases, got, load, elapsed):
    H, P = SIM["healthy"], SIM["hook"]
    rt, rw = SIM["refresh"]
    pt, pw = SIM["poll"]
    ap = SIM["apply"]
    print(f"Load average (1/5/15 min): {load[0]} at start, {load[1]} after the old-flow runs, "
          f"{load[2]} at end ({elapsed:.0f} s of runs).\n")
    print("### Measured: `assay promote`, hook start → verdict commit on the remote\n")
    print("| candidate (error rate) | duration | flow | verdict | decisive look (s into the "
          "window) | → commit on remote | → `committed` line | → exit |")
    print("|---|---|---|---|---|---:|---:|---:|")
    for c in cases:
        r, res = got[c.slug]
        dur = c.duration or "5m"
        print(f"| {c.label} ({c.k * LIMIT:.1%}) | {dur} | {c.flow} | {res['verdict']} | "
              f"{res['look']} ({res['look_s']} s) | {res['ref']:.2f} s | {res['line']:.2f} s | "
              f"{res['exit']:.2f} s |")
    print()
    print("### From the sync (push mode)\n")
    print(f"Sync → Healthy {H:.0f} s, → hook pod start {P:.0f} s (both flows). New flow: "
          f"the hook starts at {H + P:.0f} s; after the commit, refresh + auto-sync "
          f"{rt:.0f} s typical, {rw:.0f} s worst. Old flow: the load Job runs warmup + duration "
          f"after Healthy, the hook starts {P:.0f} s after it completed; after the commit, "
          f"Argo CD's polling {pt:.0f} s typical (mean), {pw:.0f} s worst, then "
          f"{ap:.0f} s to apply.\n")
    print("| candidate | verdict (old / new) | (a) sync → verdict commit, old | new | "
          "(b) sync → traffic off the candidate / promotion applied, old: typical | worst | "
          "new: typical | worst |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for c in cases:
        if c.flow != "new" or c.phase is not None:
            continue
        old = next(o for o in cases if o.flow == "old" and o.version == c.version
                   and o.duration == c.duration)
        _, ro = got[old.slug]
        _, rn = got[c.slug]
        a_old = H + old.warmup + old.window_s + P + ro["ref"]
        a_new = H + P + rn["ref"]
        b = (a_old + pt + ap, a_old + pw + ap, a_new + rt, a_new + rw)
        rows.append((c, rn, a_new, b))
        dur = f", `duration: {c.duration}`" if c.duration else ""
        print(f"| {c.label} ({c.k * LIMIT:.1%}){dur} | {ro['verdict']} / {rn['verdict']} "
              f"(look {rn['look']}) | {fmt(a_old)} | {fmt(a_new)} | {fmt(b[0])} | {fmt(b[1])} | "
              f"{fmt(b[2])} | {fmt(b[3])} |")
    print()
    sweep = [c for c in cases if c.phase is not None]
    print("### The 5× candidate against the scrape phase (new flow, `duration: 5m`)\n")
    print("The hook started at a whole second `phase` s past a scrape of the 15 s grid "
          "(`increase()` needs two samples inside its range, so the first look with data "
          "depends on it).\n")
    print("| phase | decisive look (s into the window) | hook start → commit | (a) sync → commit "
          "| (b) sync → traffic off: typical | worst |")
    print("|---:|---|---:|---:|---:|---:|")
    cut = []
    for c in sweep:
        _, rn = got[c.slug]
        a_new = H + P + rn["ref"]
        cut.append((a_new + rt, a_new + rw))
        print(f"| {c.phase} s | {rn['look']} ({rn['look_s']} s) | {rn['ref']:.2f} s | "
              f"{fmt(a_new)} | {fmt(a_new + rt)} | {fmt(a_new + rw)} |")
    print()
    five = [b for c, _, _, b in rows if c.version == "v5"] + [(0, 0, t, w) for t, w in cut]
    typ = max(b[2] for b in five)
    worst = max(b[3] for b in five)
    print(f"Target (a 5× candidate cut off ≤ 90 s after the sync, whatever `duration` is): "
          f"typical refresh, at most {fmt(typ)}: **{'met' if typ <= 90 else 'NOT met'}**; "
          f"worst refresh, at most {fmt(worst)}: **{'met' if worst <= 90 else 'NOT met'}** "
          f"(over all {len(five)} 5× runs).\n")
    print("Every look of the new-flow 5× run (stderr, seconds after the hook started):\n")
    r5, _ = got["new-v5"]
    print("```")
    for line in collapse(r5.lines):
        print(line)
    print("```\n")
    print("Commands (paths shortened; the old flow's `--started-at` is the hook's start − "
          f"{P:.0f} s − (warmup + duration)):\n")
    for c in cases:
        r, _ = got[c.slug]
        argv = [x.replace(a.workdir + "/", "") for x in r.argv]
        argv[0] = "assay"
        if "--started-at" in argv:
            argv[argv.index("--started-at") + 1] = "@HOOK_START@-" + (
                f"{P + c.warmup + c.window_s:.0f}s")
        print(f"- {c.slug}: `{' '.join(argv)}`")
    print()
    print("Reasons at the decisive look (new flow):\n")
    for c, rn, _, _ in rows:
        print(f"- {c.slug}: {rn['verdict']} at look {rn['look']}: {rn['reason']}")
    print()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("metrics")
    m.add_argument("--past", type=int, default=3600)
    m.add_argument("--future", type=int, default=3600)
    m.add_argument("--out", required=True)
    r = sub.add_parser("run")
    for flag in ("--assay", "--daemon-url", "--srv", "--prometheus", "--sample", "--workdir"):
        r.add_argument(flag, required=True)
    a = ap.parse_args()
    if a.cmd == "metrics":
        metrics(a)
    else:
        a.workdir = os.path.abspath(a.workdir)
        a.srv = os.path.abspath(a.srv)
        run(a)


if __name__ == "__main__":
    main()
