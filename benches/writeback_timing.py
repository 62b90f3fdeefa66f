#!/usr/bin/env python3
"""Timing harness for benches/writeback.sh (see there for the fixture).

    writeback_timing.py compare --assay BIN --url URL --git-dir BARE --base SHA \
        --path PATH --id ID --spec FILE --daemon-pid PID --workdir DIR \
        [--rounds N] [--warmup N] [--hyperfine-runs N]
    writeback_timing.py race --assay BIN --url URL --git-dir BARE --base SHA \
        --daemon-pid PID --workdir DIR [--reps N] [--noise N] [--noise-gap S] APP=ID...

`compare`: each round resets `main` of the bare repository to --base (the
commit proposing the candidate), then runs `assay writeback --verdict
promote` and the equivalent git CLI script (shallow clone, sed, commit, push)
-- plus, for information, the same script without a checkout -- in an order
that rotates from round to round. A run is timed from just before
posix_spawn to just after wait4; afterwards the harness waits until git
daemon has no children left (the server side of the run is finished; its
CPU time is the growth of the daemon's cutime+cstime) and checks that the
run pushed exactly one commit on top of --base whose PATH is the promoted
file, so that no side is ever timed doing nothing.

`race`: resets `main`, then starts every `assay writeback` at once (one per
APP, `envs/APP/assay.yaml`) plus a loop pushing --noise unrelated commits;
reports the wall time from the start to the last exit, and checks that each
APP was promoted exactly once (commits whose message holds
`Assay-Experiment: ID`) and that all noise commits landed.

Prints markdown on stdout, progress on stderr.
"""

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time

TARGET_RATIO = 1.0  # the target: assay ≤ 1.0× the git CLI script
IDLE_DEADLINE = 60.0  # s to wait for git daemon's children to finish
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def git(git_dir, *args, input=None):
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args],
        check=True, capture_output=True, text=True, input=input,
    ).stdout


def promoted(spec):
    """What `promote` makes of the candidate spec: the baseline's fields go,
    the candidate's take their place (what the CLI script's sed does)."""
    lines = spec.splitlines(keepends=True)
    b = lines.index("  baseline:\n")
    c = lines.index("  candidate:\n")
    return "".join(lines[: b + 1] + lines[c + 1 :])


# --- git daemon bookkeeping ---------------------------------------------------


def daemon_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except FileNotFoundError:
        sys.exit(f"writeback_timing.py: git daemon (pid {pid}) is gone")


def daemon_cpu_ns(pid):
    """CPU time of the daemon's reaped children (the per-connection servers
    and their upload-pack/receive-pack/pack-objects)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (int(fields[13]) + int(fields[14])) * TICK_NS


def wait_idle(pid):
    deadline = time.monotonic() + IDLE_DEADLINE
    while daemon_children(pid):
        if time.monotonic() > deadline:
            sys.exit(f"writeback_timing.py: git daemon still busy after {IDLE_DEADLINE:.0f}s")
        time.sleep(0.002)


# --- statistics ---------------------------------------------------------------


def p95(xs):
    return statistics.quantiles(xs, n=20, method="inclusive")[18]


def summary(ms):
    return {
        "mean": statistics.fmean(ms),
        "median": statistics.median(ms),
        "p95": p95(ms),
        "min": min(ms),
        "max": max(ms),
        "stdev": statistics.stdev(ms) if len(ms) > 1 else 0.0,
    }


def uptime():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- compare ------------------------------------------------------------------


def compare(a):
    spec = open(a.spec, encoding="utf-8").read()
    want = promoted(spec)
    name = re.search(r"(?m)^metadata:\n  name: (\S+)$", spec).group(1)
    version = re.search(r"(?m)^  candidate:\n    version: (\S+)$", spec).group(1)
    subject = f"assay: promote {name} {version}"
    trailer = f"Assay-Experiment: {a.id}"
    sed = r"sed -i '/^  baseline:$/,/^  candidate:$/{/^  baseline:$/!d}' " + shlex.quote(a.path)
    msg = f"-m {shlex.quote(subject)} -m {shlex.quote(trailer + chr(10) + 'Assay-Verdict: promote')}"
    cli = (
        f"git clone -q --depth 1 --branch main --single-branch {a.url} work && cd work && "
        f"{sed} && git commit -q -a {msg} && git push -q origin main"
    )
    lean = (
        f"git clone -q --depth 1 --no-checkout --branch main --single-branch {a.url} work && cd work && "
        f"git read-tree HEAD && "
        f"blob=$(git show HEAD:{shlex.quote(a.path)} | "
        + r"sed '/^  baseline:$/,/^  candidate:$/{/^  baseline:$/!d}'"
        + f" | git hash-object -w --stdin) && "
        f"git update-index --cacheinfo 100644,$blob,{shlex.quote(a.path)} && "
        f"git commit -q {msg} && git push -q origin main"
    )
    assay = [
        a.assay, "writeback", "--repo", a.url, "--branch", "main", "--path", a.path,
        "--experiment", a.id, "--verdict", "promote", "--credentials", "/nonexistent",
    ]
    bash = shutil.which("bash")
    names = ["assay writeback", "git CLI script", "git CLI, no checkout"]
    shown = {
        names[0]: shlex.join(["target/release/assay", *assay[1:]]),
        names[1]: cli,
        names[2]: lean,
    }
    cmds = {names[0]: assay, names[1]: [bash, "-c", cli], names[2]: [bash, "-c", lean]}

    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="assay", GIT_AUTHOR_EMAIL="assay@assay.dev",
        GIT_COMMITTER_NAME="assay", GIT_COMMITTER_EMAIL="assay@assay.dev",
    )
    devnull = os.open(os.devnull, os.O_WRONLY)
    run_dir = os.path.join(a.workdir, "run")
    trash = os.path.join(a.workdir, "trash")
    os.makedirs(trash, exist_ok=True)

    def reset():
        wait_idle(a.daemon_pid)
        git(a.git_dir, "update-ref", "refs/heads/main", a.base)
        # Checkouts are moved aside, not deleted: ext4 skips recently freed
        # inodes when allocating (recently_deleted()), which makes creating
        # 20,000 files seconds slower for half a minute after deleting 20,000.
        if os.path.exists(run_dir):
            os.rename(run_dir, os.path.join(trash, str(len(os.listdir(trash)))))
        os.makedirs(run_dir)

    def verify(n):
        head = git(a.git_dir, "rev-parse", "refs/heads/main").strip()
        if head == a.base:
            sys.exit(f"writeback_timing.py: {n} did not move main")
        parent = git(a.git_dir, "rev-parse", "refs/heads/main^").strip()
        if parent != a.base:
            sys.exit(f"writeback_timing.py: {n} pushed {head}, not one commit on {a.base}")
        got = git(a.git_dir, "show", f"{head}:{a.path}")
        if got != want:
            sys.exit(f"writeback_timing.py: {n} left {a.path} as\n{got}")
        body = git(a.git_dir, "log", "-1", "--format=%B", head)
        if trailer not in body:
            sys.exit(f"writeback_timing.py: {n}'s commit lacks {trailer!r}:\n{body}")

    def run(n):
        reset()
        cpu0 = daemon_cpu_ns(a.daemon_pid)
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1)]
        argv = cmds[n]
        os.chdir(run_dir)
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        os.chdir(a.workdir)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"writeback_timing.py: {n} failed ({status:#x})")
        wait_idle(a.daemon_pid)
        server = daemon_cpu_ns(a.daemon_pid) - cpu0
        verify(n)
        return (t1 - t0) / 1e6, (ru.ru_utime + ru.ru_stime) * 1e3, server / 1e6

    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    srv = {n: [] for n in names}
    load = [uptime()]
    k = len(names)
    for r in range(a.warmup + a.rounds):
        order = [names[(r + i) % k] for i in range(k)]
        got = {}
        for n in order:
            got[n] = run(n)
            if r >= a.warmup:
                wall[n].append(got[n][0])
                cpu[n].append(got[n][1])
                srv[n].append(got[n][2])
        tag = "warm-up" if r < a.warmup else f"round {r - a.warmup + 1}/{a.rounds}"
        log(f"{tag}: " + ", ".join(f"{n} {got[n][0]:.0f} ms" for n in order))
    load.append(uptime())

    stats = {n: summary(wall[n]) for n in names}
    ref = stats[names[1]]
    print(f"### assay writeback vs git CLI: {a.rounds} interleaved rounds "
          f"(after {a.warmup} warm-up), order rotating each round\n")
    print(f"Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]}.\n")
    print("| command | mean ms | median ms | p95 ms | min ms | max ms | σ ms | client CPU ms | server CPU ms | mean ÷ CLI | median ÷ CLI |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        s = stats[n]
        print(f"| {n} | {s['mean']:.0f} | {s['median']:.0f} | {s['p95']:.0f} | {s['min']:.0f} | "
              f"{s['max']:.0f} | {s['stdev']:.0f} | {statistics.fmean(cpu[n]):.0f} | "
              f"{statistics.fmean(srv[n]):.0f} | {s['mean'] / ref['mean']:.2f}× | "
              f"{s['median'] / ref['median']:.2f}× |")
    print()
    print("Wall time is from spawn to reaped process. Client CPU: user+system of the process "
          "and its children (wait4). Server CPU: the growth of git daemon's cutime+cstime over the "
          "run (its upload-pack, pack-objects and receive-pack children), read once the daemon "
          "had no children left. Every run was checked to have pushed one commit on the base "
          "with the promoted file and the `Assay-Experiment` trailer.\n")
    print("Per-round wall times (ms), in run order:\n")
    print("| round | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * k)
    for r in range(a.rounds):
        print(f"| {r + 1} | " + " | ".join(f"{wall[n][r]:.0f}" for n in names) + " |")
    print()
    print("Commands (run in an empty directory each time; `main` reset to the base before each):\n")
    for n in names:
        print(f"- {n}: `{shown[n]}`")
    print()

    hf = hyperfine(a, names[:2], shown, env)

    print("### Target: assay ≤ 1.0× the git CLI script\n")
    for stat in ("mean", "median"):
        ratio = stats[names[0]][stat] / ref[stat]
        ok = ratio <= TARGET_RATIO
        print(f"- **{'PASS' if ok else 'FAIL'}** interleaved {stat}: {ratio:.2f}× "
              f"({stats[names[0]][stat]:.0f} ms vs {ref[stat]:.0f} ms)")
    if hf:
        ratio = hf[names[0]] / hf[names[1]]
        print(f"- **{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}** hyperfine mean: {ratio:.2f}× "
              f"({hf[names[0]]:.0f} ms vs {hf[names[1]]:.0f} ms)")
    print()


def hyperfine(a, names, shown, env):
    """hyperfine cross-check (not interleaved). --prepare checks that the
    previous run pushed, then resets main and the work directory."""
    exe = shutil.which("hyperfine")
    if exe is None or a.hyperfine_runs <= 0:
        if exe is None:
            print("### hyperfine: not installed (`apt-get install -y hyperfine`); cross-check skipped\n")
        return None
    import json
    import tempfile

    run_dir = os.path.join(a.workdir, "hf")
    trash = os.path.join(a.workdir, "trash")
    marker = os.path.join(a.workdir, "hf.pushed")
    q = shlex.quote
    check = (
        f"if [ -e {q(marker)} ]; then "
        f"test \"$(git --git-dir={q(a.git_dir)} rev-parse refs/heads/main^)\" = {a.base} && "
        f"git --git-dir={q(a.git_dir)} log -1 --format=%B refs/heads/main | grep -qF 'Assay-Experiment: {a.id}' "
        f"|| {{ echo 'previous run did not push' >&2; exit 1; }}; fi"
    )
    prepare = (
        f"{check}; while [ -n \"$(cat /proc/{a.daemon_pid}/task/{a.daemon_pid}/children)\" ]; do sleep 0.002; done; "
        f"git --git-dir={q(a.git_dir)} update-ref refs/heads/main {a.base} && "
        f"{{ ! test -e {q(run_dir)} || mv {q(run_dir)} \"$(mktemp -d -p {q(trash)})\"; }} && "
        f"mkdir -p {q(run_dir)} && touch {q(marker)}"
    )
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "hf.json")
        argv = [exe, "--style", "basic", "--warmup", "1", "--runs", str(a.hyperfine_runs),
                "--prepare", prepare, "--export-json", out]
        for n in names:
            argv += ["--command-name", n, f"cd {q(run_dir)} && {shown[n].replace('target/release/assay', q(a.assay), 1)}"]
        if os.path.exists(marker):
            os.unlink(marker)
        load0 = uptime()
        subprocess.run(argv, check=True, stdout=sys.stderr, env=env)
        subprocess.run(["bash", "-c", check], check=True)
        load1 = uptime()
        with open(out) as f:
            results = json.load(f)["results"]
    print(f"### hyperfine cross-check: --warmup 1 --runs {a.hyperfine_runs}, one command after the other\n")
    print(f"Load average at start: {load0}; at end: {load1}.\n")
    print("| command | mean ms | median ms | min ms | max ms | σ ms | mean ÷ CLI |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    means = {}
    for n, r in zip(names, results):
        means[n] = r["mean"] * 1e3
    for n, r in zip(names, results):
        print(f"| {n} | {r['mean'] * 1e3:.0f} | {r['median'] * 1e3:.0f} | {r['min'] * 1e3:.0f} | "
              f"{r['max'] * 1e3:.0f} | {r['stddev'] * 1e3:.0f} | {means[n] / means[names[1]]:.2f}× |")
    print()
    return means


# --- race ---------------------------------------------------------------------


def race(a):
    apps = []
    for spec in a.apps:
        app, _, exp = spec.partition("=")
        apps.append((app, exp))
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="noise", GIT_AUTHOR_EMAIL="noise@example.com",
        GIT_COMMITTER_NAME="noise", GIT_COMMITTER_EMAIL="noise@example.com",
    )
    rows = []
    print(f"### {len(apps)}-way race: {len(apps)} `assay writeback` processes at once "
          f"plus {a.noise} unrelated pushes, {a.reps} repetitions\n")
    for rep in range(1, a.reps + 1):
        wait_idle(a.daemon_pid)
        git(a.git_dir, "update-ref", "refs/heads/main", a.base)
        rep_dir = os.path.join(a.workdir, f"race{rep}")
        shutil.rmtree(rep_dir, ignore_errors=True)
        os.makedirs(rep_dir)
        noise_git = os.path.join(rep_dir, "noise.git")
        # Prepared before the start: a shallow bare clone the noise loop commits in.
        subprocess.run(["git", "clone", "-q", "--bare", "--depth", "1", "--branch", "main",
                        a.url, noise_git], check=True, env=env)
        wait_idle(a.daemon_pid)
        load0 = uptime()

        noise_log = {"pushes": 0, "rejected": 0, "failed": 0, "error": None, "done": None}

        def noise():
            g = ["git", "--git-dir", noise_git]
            idx = dict(env, GIT_INDEX_FILE=os.path.join(rep_dir, "noise.index"))
            for k in range(1, a.noise + 1):
                if k > 1:
                    time.sleep(a.noise_gap)
                path = f"components/c000/cm{k:05d}.yaml"
                while True:
                    fetch = subprocess.run(g + ["fetch", "-q", "--depth", "1", "origin",
                                                "+main:refs/heads/main"], capture_output=True, env=idx)
                    if fetch.returncode != 0:
                        noise_log["failed"] += 1
                        if noise_log["failed"] > 20:
                            noise_log["error"] = fetch.stderr.decode()
                            return
                        continue
                    subprocess.run(g + ["read-tree", "main"], check=True, env=idx)
                    old = subprocess.run(g + ["cat-file", "blob", f"main:{path}"], check=True,
                                         capture_output=True, env=idx).stdout
                    blob = subprocess.run(g + ["hash-object", "-w", "--stdin"], check=True,
                                          capture_output=True, input=old + f"# noise {k}\n".encode(),
                                          env=idx).stdout.decode().strip()
                    subprocess.run(g + ["update-index", "--cacheinfo", f"100644,{blob},{path}"],
                                   check=True, env=idx)
                    tree = subprocess.run(g + ["write-tree"], check=True, capture_output=True,
                                          env=idx).stdout.decode().strip()
                    commit = subprocess.run(g + ["commit-tree", tree, "-p", "main", "-m",
                                                 f"noise: unrelated change {k} (race {rep})"],
                                            check=True, capture_output=True, env=idx).stdout.decode().strip()
                    push = subprocess.run(g + ["push", "-q", "origin", f"{commit}:refs/heads/main"],
                                          capture_output=True, env=idx)
                    if push.returncode == 0:
                        noise_log["pushes"] += 1
                        break
                    noise_log["rejected"] += 1
            noise_log["done"] = time.perf_counter_ns()

        procs = []
        ends = {}
        codes = {}
        cpu = {}
        srv0 = daemon_cpu_ns(a.daemon_pid)
        t0 = time.perf_counter_ns()
        for app, exp in apps:
            err = open(os.path.join(rep_dir, f"{app}.stderr"), "w+")
            argv = [a.assay, "writeback", "--repo", a.url, "--branch", "main",
                    "--path", f"envs/{app}/assay.yaml", "--experiment", exp,
                    "--verdict", "promote", "--credentials", "/nonexistent"]
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ])
            procs.append((app, exp, pid, err))
        nt = threading.Thread(target=noise)
        nt.start()

        def waiter(app, pid):
            _, status, ru = os.wait4(pid, 0)
            ends[app] = time.perf_counter_ns()
            codes[app] = os.waitstatus_to_exitcode(status)
            cpu[app] = ru.ru_utime + ru.ru_stime

        ws = [threading.Thread(target=waiter, args=(app, pid)) for app, _, pid, _ in procs]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        last = max(ends.values())
        nt.join()
        wait_idle(a.daemon_pid)
        server_s = (daemon_cpu_ns(a.daemon_pid) - srv0) / 1e9
        load1 = uptime()

        # Outcomes: every process wrote its verdict...
        problems = []
        if noise_log["error"]:
            problems.append(f"the noise loop gave up: {noise_log['error'].strip()}")
        attempts = []
        for app, exp, pid, err in procs:
            err.seek(0)
            text = err.read()
            err.close()
            m = re.search(r"verdict written: [0-9a-f]+ \(attempt (\d+)\)", text)
            if codes[app] != 0 or m is None:
                problems.append(f"{app} exited {codes[app]}: {text.strip()}")
            else:
                attempts.append(int(m.group(1)))
        # ...exactly once, as the history shows.
        log_text = git(a.git_dir, "log", "--format=%x00%B", "refs/heads/main")
        bodies = log_text.split("\x00")[1:]
        once = 0
        for app, exp, _, _ in procs:
            n = sum(1 for b in bodies if f"Assay-Experiment: {exp}" in b)
            text = git(a.git_dir, "show", f"refs/heads/main:envs/{app}/assay.yaml")
            if n != 1:
                problems.append(f"{app} ({exp}) promoted {n} times")
            elif "  candidate:\n" in text or "  baseline:\n    version: v2\n" not in text:
                problems.append(f"envs/{app}/assay.yaml not promoted")
            else:
                once += 1
        noise_n = sum(1 for b in bodies if b.startswith("noise: unrelated change ") and f"(race {rep})" in b)
        new = int(git(a.git_dir, "rev-list", "--count", f"{a.base}..refs/heads/main"))
        if noise_n != a.noise or new != len(apps) + a.noise:
            problems.append(f"{noise_n} noise commits, {new} new commits on main")
        rows.append({
            "rep": rep,
            "wall": (last - t0) / 1e9,
            "first": (min(ends.values()) - t0) / 1e9,
            "median": statistics.median(ends.values()) / 1e9 - t0 / 1e9,
            "noise": (noise_log["done"] - t0) / 1e9 if noise_log["done"] else float("nan"),
            "attempts": f"{sum(attempts)} / {max(attempts) if attempts else 0}",
            "client": sum(cpu.values()),
            "server": server_s,
            "noise_rej": f"{noise_log['rejected']} / {noise_log['failed']}",
            "once": once,
            "noise_n": noise_n,
            "load": f"{load0} → {load1}",
            "problems": problems,
        })
        log(f"race {rep}: {rows[-1]['wall']:.1f} s to the last exit, {sum(attempts)} attempts in all"
            + (f"; PROBLEMS: {problems}" if problems else ""))
        shutil.rmtree(rep_dir, ignore_errors=True)

    print("| run | wall s, start → last exit | first / median exit s | noise loop done s | "
          "assay attempts, total / max | assay CPU s | server CPU s | noise pushes rejected / "
          "fetches failed | promoted exactly once | load at start → end |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['rep']} | {r['wall']:.1f} | {r['first']:.1f} / {r['median']:.1f} | {r['noise']:.1f} | "
              f"{r['attempts']} | {r['client']:.1f} | {r['server']:.1f} | {r['noise_rej']} | "
              f"{r['once']}/{len(apps)}{' ✓' if r['once'] == len(apps) else ' ✗'}, "
              f"{r['noise_n']}/{a.noise} noise | {r['load']} |")
    walls = [r["wall"] for r in rows]
    print()
    print(f"Wall time over the {a.reps} runs: mean {statistics.fmean(walls):.1f} s, "
          f"min {min(walls):.1f} s, max {max(walls):.1f} s. Assay CPU: user+system of the "
          f"{len(apps)} processes (wait4); server CPU: git daemon's children over the run.\n")
    bad = [(r["rep"], p) for r in rows for p in r["problems"]]
    if bad:
        print("**Problems:**\n")
        for rep, p in bad:
            print(f"- race {rep}: {p}")
        print()
        sys.exit(1)
    print(f"After each run the branch held exactly {len(apps)} + {a.noise} new commits, one "
          f"`Assay-Experiment: <id>` commit per app, every `envs/appNN/assay.yaml` promoted "
          f"(baseline v2, no candidate), and every process exited 0 with `verdict written`.\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("compare", "race"):
        p = sub.add_parser(name)
        p.add_argument("--assay", required=True)
        p.add_argument("--url", required=True)
        p.add_argument("--git-dir", required=True)
        p.add_argument("--base", required=True)
        p.add_argument("--daemon-pid", type=int, required=True)
        p.add_argument("--workdir", required=True)
    c = sub.choices["compare"]
    c.add_argument("--path", required=True)
    c.add_argument("--id", required=True)
    c.add_argument("--spec", required=True)
    c.add_argument("--rounds", type=int, default=15)
    c.add_argument("--warmup", type=int, default=1)
    c.add_argument("--hyperfine-runs", type=int, default=15)
    r = sub.choices["race"]
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--noise", type=int, default=5)
    r.add_argument("--noise-gap", type=float, default=0.5)
    r.add_argument("apps", nargs="+", metavar="APP=ID")
    a = ap.parse_args()
    (compare if a.cmd == "compare" else race)(a)


if __name__ == "__main__":
    main()
