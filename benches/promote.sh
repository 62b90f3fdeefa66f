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

servers_init

# --- Prometheus -----------------------------------------------------------------
# Istio metrics for productpage-v1 (baseline), -v2 (good candidate) and -v3
# (failing candidate: 20% 503s), 10 rps each, 20 ms, both reporters, on a
# 15 s grid from an hour ago to FUTURE s ahead; backfilled with promtool.
mkdir -p "$tmp/prom"
python3 benches/promote_timing.py metrics --past 3600 --future "$FUTURE" --out "$tmp/prom/data.om"
start_prometheus

# --- git daemon -----------------------------------------------------------------
start_git_daemon
git init -q --bare -b main "$tmp/srv/env.git"
git --git-dir="$tmp/srv/env.git" config gc.auto 0
git --git-dir="$tmp/srv/env.git" config receive.autogc false
url=git://127.0.0.1:$port/env.git

cat <<EOF
## assay promote: deadline → pushed verdict commit

$(servers_preamble "\`cargo build --release --locked\`"), a 15 s grid from 1 h ago to $FUTURE s ahead
- $(git --version), served by \`git daemon --export-all --enable=receive-pack --reuseaddr\` on 127.0.0.1 (gc.auto 0)
- command: \`benches/promote.sh\` (ROUNDS=$ROUNDS WARMUP=$WARMUP FILLER=$FILLER FUTURE=$FUTURE)
EOF

python3 benches/promote_timing.py run --assay "$assay" --url "$url" --git-dir "$tmp/srv/env.git" \
    --prometheus "$prom_url" --prometheus-pid "$prom_pid" --daemon-pid "$daemon_pid" \
    --sample samples/bookinfo --workdir "$tmp/work" --rounds "$ROUNDS" --warmup "$WARMUP" --filler "$FILLER"
echo
echo "- load at end: $(uptime | sed 's/^ *//')"
