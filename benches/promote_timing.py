#!/usr/bin/env python3
"""Fixture and timing harness for benches/promote.sh (see there for the servers).

    promote_timing.py metrics --past S --future S --out FILE
    promote_timing.py run --assay BIN --url GIT_URL --git-dir BARE --prometheus URL \
        --prometheus-pid PID --daemon-pid PID --sample samples/bookinfo --workdir DIR \
        [--rounds N] [--warmup N]

`metrics`: OpenMetrics text for promtool with Istio's metrics, generated the
way tests/it/support/prometheus/openmetrics.rs does (straight lines on a
15 s grid, so every query is exact): `istio_requests_total` and
`istio_request_duration_milliseconds_{bucket,count,sum}` with the labels
`reporter` (source and destination), `destination_workload`,
`destination_workload_namespace="bookinfo"` and `response_code`, for
productpage-v1 and productpage-v2 (10 rps, no errors, 20 ms) and
productpage-v3 (the same with 20% 503s: the failing candidate).

`run`: seeds the bare env repository with samples/bookinfo (`mode: push`)
as tests/it/promote does, then one candidate commit per variant, each on
the seed and made with `assay candidate set ... --env color=green`:

- promote: v2 (good);
- reject: v3 (20% errors, fails error-rate);
- promote + 3 custom: v2 on a spec with three more objectives, each on a
  custom PromQL metric (one query per metric and version).

Each is rendered with `assay generate` under Argo CD's environment. Then
every round runs, in an order rotating from round to round: for each
variant `assay promote --experiment rendered.yaml --prometheus URL
--started-at <now - (warmup + duration)>` after resetting main to the
variant's candidate commit, so the deadline is the moment the process
starts; `assay judge` alone on the same window; and `assay writeback` alone
(promote and reject). Every run is checked: exit 0, one look with the
expected verdict, and main one commit ahead of the candidate with the
`Assay-Experiment: <id>` and `Assay-Verdict` trailers.

Times come from the parent: posix_spawn to wait4, and for promote the
arrival of each stderr progress line (assay writes them unbuffered). Query
counts come from assay's own progress line and, independently, from
Prometheus' `prometheus_http_request_duration_seconds{handler="/api/v1/query"}`
counter and sum (the server-side query time). Prints markdown on stdout,
progress on stderr.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

from promote_report import report

STEP = 15
BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
           60000, 300000, 600000, 1800000, 3600000]
NS = "bookinfo"
APP = "samples/bookinfo"
SPEC = f"{APP}/assay.yaml"
IDLE_DEADLINE = 60.0
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
NO_CREDENTIALS = "/nonexistent/assay-credentials"

# (workload, error fraction); 10 rps, every request 20 ms.
WORKLOADS = [("productpage-v1", 0.0), ("productpage-v2", 0.0), ("productpage-v3", 0.2)]
RPS = 10.0
LATENCY_MS = 20.0


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def die(msg):
    sys.exit(f"promote_timing.py: {msg}")


# --- metrics ------------------------------------------------------------------


def num(v):
    """Like Rust's f64 Display: 150 not 150.0."""
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def metrics(a):
    write_openmetrics(a.out, [(w, RPS, e) for w, e in WORKLOADS], a.past, a.future)


def write_openmetrics(path, workloads, past, future):
    """workloads: (name, requests per second, error fraction); also used by
    benches/timeline.py."""
    now = int(time.time())
    start = (now - past) // STEP * STEP
    end = -(-(now + future) // STEP) * STEP
    times = range(start, end + 1, STEP)
    les = [num(b) for b in BUCKETS] + ["+Inf"]
    fractions = [1.0 if LATENCY_MS <= b else 0.0 for b in BUCKETS] + [1.0]
    series = []
    for workload, rps, e in workloads:
        for reporter in ("source", "destination"):
            for code, rate in (("200", rps * (1 - e)), ("503", rps * e)):
                if rate <= 0:
                    continue  # Envoy never exports a code it has not seen
                labels = (f'reporter="{reporter}",destination_workload="{workload}",'
                          f'destination_workload_namespace="{NS}",response_code="{code}"')
                series.append((labels, rate))
    out = []
    out.append("# TYPE istio_requests counter")
    for labels, rate in series:
        for t in times:
            out.append(f"istio_requests_total{{{labels}}} {num(rate * (t - start))} {t}")
    out.append("# TYPE istio_request_duration_milliseconds histogram")
    name = "istio_request_duration_milliseconds"
    for labels, rate in series:
        for t in times:
            x = t - start
            for le, f in zip(les, fractions):
                out.append(f'{name}_bucket{{{labels},le="{le}"}} {num((rate * f) * x)} {t}')
            out.append(f"{name}_count{{{labels}}} {num(rate * x)} {t}")
            out.append(f"{name}_sum{{{labels}}} {num((rate * LATENCY_MS) * x)} {t}")
    out.append("# EOF")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    log(f"metrics: {len(workloads)} workloads, {len(series)} series, {len(times)} samples "
        f"per series, {datetime.datetime.fromtimestamp(start, datetime.UTC):%H:%M:%S} to "
        f"{datetime.datetime.fromtimestamp(end, datetime.UTC):%H:%M:%S} UTC")


# --- the env repository -------------------------------------------------------

SEL = 'destination_workload="{{workload}}",destination_workload_namespace="{{namespace}}"'
CUSTOM_OBJECTIVES = (
    "      - {metric: success-rps, lowerLimit: 1}\n"
    "      - {metric: p50-ms, upperLimit: 100}\n"
    "      - {metric: server-requests, lowerLimit: 200}\n"
    "    metrics:\n"
    "      success-rps:\n"
    f"        query: 'sum(rate(istio_requests_total{{reporter=\"source\",{SEL},response_code=~\"2..\"}}[{{{{window}}}}]))'\n"
    "      p50-ms:\n"
    f"        query: 'histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"source\",{SEL}}}[{{{{window}}}}])))'\n"
    "      server-requests:\n"
    f"        query: 'sum(increase(istio_requests_total{{reporter=\"destination\",{SEL}}}[{{{{window}}}}]))'\n"
)
LAST_OBJECTIVE = "      - {metric: error-rate, upperLimit: 0.01}\n"

VARIANTS = [
    # name, version, custom metrics, expected verdict
    ("promote", "v2", False, "promote"),
    ("reject", "v3", False, "reject"),
    ("promote + 3 custom", "v2", True, "promote"),
]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "CI", "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "CI", "GIT_COMMITTER_EMAIL": "ci@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
}


def git(*args, cwd=None, env=None):
    e = dict(os.environ)
    e.update(GIT_ENV)
    if env:
        e.update(env)
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, env=e).stdout


def checked(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        die(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    if not m:
        die(f"cannot read the duration {text!r}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def propose(assay, workdir, work, slug, version):
    """CI's candidate commit in the clone `work` (`assay candidate set`, as
    CI would); the commit, the experiment id and the spec's text. Also used
    by benches/timeline.py."""
    path = os.path.join(work, SPEC)
    proposal = os.path.join(workdir, f"proposal-{slug}.yaml")
    shutil.copyfile(path, proposal)
    checked([assay, "candidate", "set", "--file", proposal, "--version", version,
             "--image", f"iter8/productpage:{version}", "--env", "color=green"])
    shutil.copyfile(proposal, path)
    git("commit", "-q", "-a", "-m", f"CI: propose {version}", cwd=work)
    commit = git("rev-parse", "HEAD", cwd=work).strip()
    out = checked([assay, "validate", path])
    m = re.search(r"experiment ([0-9a-f]+)\)", out)
    if not m:
        die(f"assay validate gave no experiment id:\n{out}")
    return commit, m.group(1), open(path, encoding="utf-8").read()


class Variant:
    def __init__(self, name, version, custom, verdict):
        self.name, self.version, self.custom, self.verdict = name, version, custom, verdict
        self.slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def seed(a, env):
    """Builds the seed and one candidate commit per variant in a scratch
    clone, pushes them (candidates under refs/bench/), renders each."""
    work = os.path.join(a.workdir, "seed")
    os.makedirs(work)
    git("init", "-q", "-b", "main", cwd=work)
    os.makedirs(os.path.join(work, APP))
    for name in sorted(os.listdir(a.sample)):
        src = os.path.join(a.sample, name)
        if not os.path.isfile(src):
            continue
        text = open(src, encoding="utf-8").read()
        if name == "assay.yaml":
            # The team that owns this env repo lets the hook push verdicts.
            if "mode: pull-request" not in text:
                die("the sample's assay.yaml has no `mode: pull-request`")
            text = text.replace("mode: pull-request", "mode: push")
        with open(os.path.join(work, APP, name), "w", encoding="utf-8") as f:
            f.write(text)
    if a.filler:
        # Filler ConfigMaps beside the app, as in benches/writeback_repo.py,
        # for an env repo of realistic size (every fetch carries them).
        sys.dont_write_bytecode = True
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from writeback_repo import filler, filler_path
        for i in range(a.filler):
            path = os.path.join(work, filler_path(i))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(filler(i, 0))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Initial import of samples/bookinfo", cwd=work)
    base = git("rev-parse", "HEAD", cwd=work).strip()
    variants = [Variant(*v) for v in VARIANTS]
    for v in variants:
        git("checkout", "-q", "-B", f"bench-{v.slug}", base, cwd=work)
        path = os.path.join(work, SPEC)
        if v.custom:
            text = open(path, encoding="utf-8").read()
            if LAST_OBJECTIVE not in text:
                die(f"no {LAST_OBJECTIVE.strip()!r} in the sample's assay.yaml")
            text = text.replace(LAST_OBJECTIVE, LAST_OBJECTIVE + CUSTOM_OBJECTIVES)
            open(path, "w", encoding="utf-8").write(text)
            git("commit", "-q", "-a", "-m", "productpage: 3 custom objectives", cwd=work)
        v.commit, v.id, spec = propose(a.assay, a.workdir, work, v.slug, v.version)
        v.window = (seconds(re.search(r"(?m)^    warmup: (\S+)$", spec).group(1))
                    + seconds(re.search(r"(?m)^    duration: (\S+)$", spec).group(1)))
        v.objectives = len(re.findall(r"(?m)^      - \{metric: ", spec))
        # Render what Argo CD's repo-server would: the app directory at this commit.
        app = os.path.join(a.workdir, f"app-{v.slug}")
        shutil.copytree(os.path.join(work, APP), app)
        rendered = checked([a.assay, "generate"], cwd=app, env={
            "PATH": os.environ["PATH"],
            "ARGOCD_APP_NAME": "bookinfo",
            "ARGOCD_APP_NAMESPACE": NS,
            "ARGOCD_APP_SOURCE_REPO_URL": a.url,
            "ARGOCD_APP_SOURCE_PATH": APP,
            "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
            "ARGOCD_APP_PARAMETERS": "null",
        })
        if "kind: Experiment" not in rendered:
            die(f"assay generate rendered no Experiment for {v.name}")
        v.rendered = os.path.join(a.workdir, f"rendered-{v.slug}.yaml")
        open(v.rendered, "w", encoding="utf-8").write(rendered)
    refspecs = [f"{base}:refs/heads/main"] + [f"{v.commit}:refs/bench/{v.slug}" for v in variants]
    git("push", "-q", a.git_dir, *refspecs, cwd=work, env=env)
    return base, variants


# --- process and server bookkeeping -------------------------------------------


def daemon_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except FileNotFoundError:
        die(f"git daemon (pid {pid}) is gone")


def proc_cpu_ns(pid, children):
    """utime+stime of the process (children=False) or of its reaped
    children (True: the daemon's per-connection servers)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime/stime are 14/15, cutime/cstime 16/17.
    i = 13 if children else 11
    return (int(fields[i]) + int(fields[i + 1])) * TICK_NS


def wait_idle(pid):
    deadline = time.monotonic() + IDLE_DEADLINE
    while daemon_children(pid):
        if time.monotonic() > deadline:
            die(f"git daemon still busy after {IDLE_DEADLINE:.0f}s")
        time.sleep(0.002)


QUERY_STATS = re.compile(
    r'^prometheus_http_request_duration_seconds_(count|sum)\{handler="/api/v1/query"\} (\S+)$', re.M)


def prom_queries(url):
    """Queries served so far and their summed server-side time (s)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    got = dict((k, float(v)) for k, v in QUERY_STATS.findall(text))
    return got.get("count", 0.0), got.get("sum", 0.0)


def rfc3339_ms(ms):
    dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Run:
    """One process: wall time (spawn → reaped), stderr lines with their
    arrival time, CPU of the process and of both servers, queries served."""

    def __init__(self, a, argv, env, stdout=None, started_ms=None, window=None):
        self.argv = argv
        q0 = prom_queries(a.prometheus)
        d0 = proc_cpu_ns(a.daemon_pid, True)
        p0 = proc_cpu_ns(a.prometheus_pid, False)
        r, w = os.pipe()
        out = os.open(stdout or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        actions = [(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, w, 2)]
        self.offset_ms = 0.0
        if window is not None:
            # The deadline (started-at + warmup + duration) is a whole
            # second, as with a Job's startTime, and the process starts just
            # after that second begins: assay's clock is whole seconds
            # (judge::now truncates), so a deadline between two seconds would
            # only be seen as passed at the next one.
            wall_ns = time.time_ns()
            deadline_s = wall_ns // 1_000_000_000 + 1
            time.sleep(max(0.0, (deadline_s * 1_000_000_000 - wall_ns) / 1e9 - 0.002))
            while time.time_ns() < deadline_s * 1_000_000_000:
                pass
            started_ms = (deadline_s - int(window)) * 1000
            argv = [x.replace("@STARTED@", rfc3339_ms(started_ms))
                     .replace("@DEADLINE@", rfc3339_ms(deadline_s * 1000)) for x in argv]
            self.argv = argv
        wall_ns = time.time_ns()
        t0 = time.perf_counter_ns()
        if window is not None:
            self.offset_ms = (wall_ns - deadline_s * 1_000_000_000) / 1e6
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        os.close(w)
        os.close(out)
        self.lines = []
        buf = b""
        while True:
            chunk = os.read(r, 65536)
            t = (time.perf_counter_ns() - t0) / 1e6
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append((t, line.decode(errors="replace")))
        os.close(r)
        _, status, ru = os.wait4(pid, 0)
        self.wall = (time.perf_counter_ns() - t0) / 1e6
        self.code = os.waitstatus_to_exitcode(status)
        self.cpu = (ru.ru_utime + ru.ru_stime) * 1e3
        wait_idle(a.daemon_pid)
        self.daemon_cpu = (proc_cpu_ns(a.daemon_pid, True) - d0) / 1e6
        self.prom_cpu = (proc_cpu_ns(a.prometheus_pid, False) - p0) / 1e6
        q1 = prom_queries(a.prometheus)
        self.served = round(q1[0] - q0[0])
        self.query_ms = (q1[1] - q0[1]) * 1e3

    def stderr(self):
        return "\n".join(l for _, l in self.lines)

    def at(self, pattern):
        """Arrival (ms after spawn) of the first stderr line matching pattern."""
        for t, line in self.lines:
            if re.search(pattern, line):
                return t
        die(f"no stderr line matching {pattern!r} from {self.argv[1]}:\n{self.stderr()}")


LOOK = re.compile(r"look (\d+) \((\d+)s of (\d+)s, (\d+) queries\): (\w+): (.*)$")


def verify_commit(a, v, verdict, who, sha=None):
    head = git("--git-dir", a.git_dir, "rev-parse", "refs/heads/main").strip()
    if sha is not None and head != sha:
        die(f"{who}: main is at {head}, not at the reported {sha}")
    parent = git("--git-dir", a.git_dir, "rev-parse", "refs/heads/main^").strip()
    if head == v.commit or parent != v.commit:
        die(f"{who}: main ({head}) is not one commit on the candidate {v.commit}")
    body = git("--git-dir", a.git_dir, "log", "-1", "--format=%B", head)
    for want in (f"Assay-Experiment: {v.id}", f"Assay-Verdict: {verdict}"):
        if want not in body.splitlines():
            die(f"{who}: the commit lacks {want!r}:\n{body}")
    return body


def reset(a, v):
    wait_idle(a.daemon_pid)
    git("--git-dir", a.git_dir, "update-ref", "refs/heads/main", v.commit)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- run ----------------------------------------------------------------------


def run(a):
    os.makedirs(a.workdir)
    home = os.path.join(a.workdir, "home")
    os.makedirs(home)
    env = {"PATH": os.environ["PATH"], "HOME": home}
    base, variants = seed(a, dict(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null"))
    log(f"env repo seeded: base {base[:10]}, " +
        ", ".join(f"{v.name} {v.commit[:10]} (experiment {v.id})" for v in variants))
    files = len(git("--git-dir", a.git_dir, "ls-tree", "-r", "--name-only", base).split())
    git("--git-dir", a.git_dir, "repack", "-adq")
    pack_kib = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in
                   os.walk(os.path.join(a.git_dir, "objects", "pack")) for f in fs) // 1024
    extra = f" ({a.filler} of them filler ConfigMaps)" if a.filler else " (samples/bookinfo)"
    print(f"- env.git: {files} files at the seed{extra}, "
          f"a {pack_kib} KiB pack; main reset before every run to the variant's candidate "
          f"commit (the seed plus one or two commits)\n")

    def promote(v):
        reset(a, v)
        argv = [a.assay, "promote", "--experiment", v.rendered, "--prometheus", a.prometheus,
                "--started-at", "@STARTED@", "--credentials", NO_CREDENTIALS,
                # The data is backfilled: no scrapes to wait for. In a cluster
                # the default 30 s settle is deliberate and comes on top.
                "--settle", "0s"]
        r = Run(a, argv, env, window=v.window)
        err = r.stderr()
        if r.code != 0:
            die(f"promote ({v.name}) exited {r.code}:\n{err}")
        looks = [LOOK.search(l) for _, l in r.lines]
        looks = [m for m in looks if m]
        if len(looks) != 1:
            die(f"promote ({v.name}): {len(looks)} looks, expected 1 at the deadline:\n{err}")
        look = looks[0]
        if look.group(5) != v.verdict or look.group(2) != look.group(3):
            die(f"promote ({v.name}): expected a final look with verdict {v.verdict}:\n{err}")
        m = re.search(rf"verdict {v.verdict} committed as ([0-9a-f]{{40}})", err)
        if not m:
            die(f"promote ({v.name}): no `verdict {v.verdict} committed as` line:\n{err}")
        body = verify_commit(a, v, v.verdict, f"promote ({v.name})", m.group(1))
        if not hasattr(v, "evidence"):
            # For `assay writeback` alone: the same reason and evidence.
            v.reason = look.group(6)
            v.evidence = os.path.join(a.workdir, f"evidence-{v.slug}.md")
            kept = [l for l in body.splitlines()[1:] if not l.startswith("Assay-")]
            open(v.evidence, "w", encoding="utf-8").write("\n".join(kept).strip() + "\n")
        r.queries = int(look.group(4))
        r.phases = {
            "start": r.at(r"^assay: experiment "),
            "look": r.at(r"^assay: look 1 "),
            "commit": r.at(r"committed as "),
        }
        r.commit_ms = r.offset_ms + r.phases["commit"]
        r.exit_ms = r.offset_ms + r.wall
        return r

    def judge(v):
        out = os.path.join(a.workdir, "judge.json")
        argv = [a.assay, "judge", "--experiment", v.rendered, "--prometheus", a.prometheus,
                "--started-at", "@STARTED@", "--at", "@DEADLINE@", "--output", "json"]
        r = Run(a, argv, env, stdout=out, window=v.window)
        if r.code != 0:
            die(f"judge ({v.name}) exited {r.code}:\n{r.stderr()}")
        got = json.load(open(out))
        if got.get("verdict") != v.verdict:
            die(f"judge ({v.name}): verdict {got.get('verdict')}, expected {v.verdict}")
        return r

    def writeback(v):
        reset(a, v)
        argv = [a.assay, "writeback", "--repo", a.url, "--branch", "main", "--path", SPEC,
                "--experiment", v.id, "--verdict", v.verdict, "--evidence", v.evidence,
                "--credentials", NO_CREDENTIALS]
        if v.verdict == "reject":
            argv += ["--reason", v.reason]
        r = Run(a, argv, env)
        if r.code != 0:
            die(f"writeback ({v.name}) exited {r.code}:\n{r.stderr()}")
        verify_commit(a, v, v.verdict, f"writeback ({v.name})")
        return r

    jobs = ([("promote", v) for v in variants] + [("judge", v) for v in variants]
            + [("writeback", v) for v in variants if not v.custom])
    kinds = {"promote": promote, "judge": judge, "writeback": writeback}
    results = {(k, v.name): [] for k, v in jobs}
    load = [loadavg()]
    t_start = time.monotonic()
    for rnd in range(a.warmup + a.rounds):
        k = rnd % len(jobs)
        order = jobs[k:] + jobs[:k]
        got = {}
        for kind, v in order:
            got[(kind, v.name)] = kinds[kind](v)
        if rnd >= a.warmup:
            for key, r in got.items():
                results[key].append(r)
        tag = "warm-up" if rnd < a.warmup else f"round {rnd - a.warmup + 1}/{a.rounds}"
        log(f"{tag}: deadline → commit " + ", ".join(
            f"{v.name} {got[('promote', v.name)].commit_ms:.0f} ms" for v in variants)
            + f"; load {loadavg()}")
    load.append(loadavg())
    elapsed = time.monotonic() - t_start
    report(a, variants, results, load, elapsed, CUSTOM_OBJECTIVES)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("metrics")
    m.add_argument("--past", type=int, default=3600)
    m.add_argument("--future", type=int, default=600)
    m.add_argument("--out", required=True)
    r = sub.add_parser("run")
    for flag in ("--assay", "--url", "--git-dir", "--prometheus", "--sample", "--workdir"):
        r.add_argument(flag, required=True)
    r.add_argument("--prometheus-pid", type=int, required=True)
    r.add_argument("--daemon-pid", type=int, required=True)
    r.add_argument("--rounds", type=int, default=30)
    r.add_argument("--warmup", type=int, default=2)
    r.add_argument("--filler", type=int, default=0)
    a = ap.parse_args()
    if a.cmd == "metrics":
        metrics(a)
    else:
        a.workdir = os.path.abspath(a.workdir)
        a.git_dir = os.path.abspath(a.git_dir)
        run(a)


if __name__ == "__main__":
    main()
