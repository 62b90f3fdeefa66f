#!/usr/bin/env bash
# Benchmark of `assay promote` (the PostSync hook) at the deadline: the time
# from the deadline to the pushed verdict commit, with Prometheus and
# `git daemon` on 127.0.0.1, and the Prometheus queries per look. Variants,
# interleaved in every round: a good candidate (promote), a failing one
# (reject), and the good one with 3 extra custom PromQL objectives (how the
# query count scales). Plus `assay judge` and `assay writeback` alone for
# the same look, as a rough breakdown. Prints markdown on stdout
# (docs/benchmarks-promote.md is one such run); progress on stderr.
#
#   benches/promote.sh                  # 30 rounds after 2 warm-up rounds
#   ROUNDS=5 WARMUP=1 benches/promote.sh
#   FILLER=20000 ROUNDS=10 benches/promote.sh   # a 20,000-file env repo
#
# Needs: cargo, git (with git-daemon), python3, and Debian's `prometheus`
# package (prometheus + promtool).
set -euo pipefail

ROUNDS=${ROUNDS:-30}
WARMUP=${WARMUP:-2}
# Filler files in the env repo beside samples/bookinfo (0: the app alone);
# FILLER=20000 gives the write-back benchmark's repository size.
FILLER=${FILLER:-0}
# Metrics cover the last hour up to FUTURE seconds ahead: every query at
# wall-clock now must fall inside the data (past its end `increase()` over
# the window goes empty and the judge sees no data). 10 minutes plus ~15 s
# per round; a round takes 3-5 s here.
FUTURE=${FUTURE:-$((600 + 15 * (ROUNDS + WARMUP)))}

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_git_daemon
need prometheus "apt-get install -y prometheus"
need promtool "apt-get install -y prometheus"

build_release

tmp=$(mktemp -d)
daemon_pid=
prom_pid=
stop() { # pid
    if [[ -n $1 ]]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
cleanup() {
    stop "$daemon_pid"
    stop "$prom_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No user or system git configuration on either side.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Prometheus -----------------------------------------------------------------
# Istio metrics for productpage-v1 (baseline), -v2 (good candidate) and -v3
# (failing candidate: 20% 503s), 10 rps each, 20 ms, both reporters, on a
# 15 s grid from an hour ago to FUTURE s ahead; backfilled with promtool.
mkdir -p "$tmp/prom"
python3 benches/promote_timing.py metrics --past 3600 --future "$FUTURE" --out "$tmp/prom/data.om"
echo "backfilling $(wc -l <"$tmp/prom/data.om") lines: promtool tsdb create-blocks-from openmetrics" >&2
promtool tsdb create-blocks-from openmetrics "$tmp/prom/data.om" "$tmp/prom/tsdb" >"$tmp/prom/promtool.log" 2>&1 ||
    { cat "$tmp/prom/promtool.log" >&2; missing "a working promtool" "the backfill failed"; }
echo "scrape_configs: []" >"$tmp/prom/prometheus.yml"
prom_port=$(free_port)
prometheus --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.retention.time=10y \
    >"$tmp/prom/prometheus.log" 2>&1 &
prom_pid=$!
prom_url=http://127.0.0.1:$prom_port
deadline=$((SECONDS + 60))
until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/-/ready", timeout=2)' "$prom_url" 2>/dev/null; do
    sleep 0.1
    if ! kill -0 "$prom_pid" 2>/dev/null || ((SECONDS > deadline)); then
        cat "$tmp/prom/prometheus.log" >&2
        missing "a working Prometheus" "it was not ready on $prom_url within 60 s"
    fi
done
echo "prometheus (pid $prom_pid) ready on $prom_url" >&2

# --- git daemon -----------------------------------------------------------------
mkdir -p "$tmp/srv"
git init -q --bare -b main "$tmp/srv/env.git"
git --git-dir="$tmp/srv/env.git" config gc.auto 0
git --git-dir="$tmp/srv/env.git" config receive.autogc false
port=$(free_port)
"$git_daemon" --export-all --enable=receive-pack --base-path="$tmp/srv" \
    --listen=127.0.0.1 --port="$port" --reuseaddr 2>"$tmp/daemon.log" &
daemon_pid=$!
url=git://127.0.0.1:$port/env.git
deadline=$((SECONDS + 20))
until git ls-remote "$url" >/dev/null 2>&1; do
    sleep 0.05
    if ! kill -0 "$daemon_pid" 2>/dev/null || ((SECONDS > deadline)); then
        cat "$tmp/daemon.log" >&2
        missing "a working git daemon" "it did not answer on 127.0.0.1:$port within 20 s"
    fi
done
echo "git daemon (pid $daemon_pid) serving $tmp/srv on 127.0.0.1:$port" >&2

cat <<EOF
## assay promote: deadline → pushed verdict commit

- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)
- load at start: $(uptime | sed 's/^ *//')
- assay $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with local changes)'), $(rustc --version), \`cargo build --release --locked\`
- $(prometheus --version 2>&1 | head -1) on 127.0.0.1, data from \`promtool tsdb create-blocks-from openmetrics\`: $(wc -l <"$tmp/prom/data.om") lines, a 15 s grid from 1 h ago to $FUTURE s ahead
- $(git --version), served by \`git daemon --export-all --enable=receive-pack --reuseaddr\` on 127.0.0.1 (gc.auto 0)
- command: \`benches/promote.sh\` (ROUNDS=$ROUNDS WARMUP=$WARMUP FILLER=$FILLER FUTURE=$FUTURE)
EOF

python3 benches/promote_timing.py run --assay "$assay" --url "$url" --git-dir "$tmp/srv/env.git" \
    --prometheus "$prom_url" --prometheus-pid "$prom_pid" --daemon-pid "$daemon_pid" \
    --sample samples/bookinfo --workdir "$tmp/work" --rounds "$ROUNDS" --warmup "$WARMUP" --filler "$FILLER"
echo
echo "- load at end: $(uptime | sed 's/^ *//')"
