#!/usr/bin/env bash
# Whole-process benchmark of `assay writeback --verdict promote` against the
# equivalent git CLI script (shallow clone, sed, commit, push), interleaved in
# one run, and the wall time of a 32-way write-back race. Both go to a bare
# env repository of 20,000 files and 5,000 commits served by `git daemon` on
# 127.0.0.1. Prints markdown on stdout (docs/benchmarks-writeback.md is one
# such run); progress on stderr.
#
#   benches/writeback.sh                       # 15 rounds, 3 races
#   ROUNDS=5 RACES=1 HYPERFINE_RUNS=0 benches/writeback.sh
#
# Needs: cargo, git (with git-daemon), python3; hyperfine is optional
# (cross-check only; apt-get install -y hyperfine).
set -euo pipefail

ROUNDS=${ROUNDS:-15}
WARMUP=${WARMUP:-1}
HYPERFINE_RUNS=${HYPERFINE_RUNS:-$ROUNDS}
RACES=${RACES:-3}
RACERS=${RACERS:-32}
NOISE=${NOISE:-5}
FILES=${FILES:-20000}
COMMITS=${COMMITS:-5000}

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_git_daemon

build_release

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
    if [[ -n $daemon_pid ]]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No user or system git configuration on either side.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# --- the env repositories -------------------------------------------------------
# env.git: envs/bookinfo (samples/bookinfo), race.git: envs/app00..appNN; both
# filled up to $FILES files with $COMMITS commits, the last proposing the
# candidate(s). Built once; every round resets main to that last commit.
mkdir -p "$tmp/srv"
build_repo() { # name app...
    local name=$1
    shift
    echo "generating $name: $FILES files, $COMMITS commits (git fast-import)" >&2
    git init -q --bare -b main "$tmp/srv/$name"
    python3 benches/writeback_repo.py --sample samples/bookinfo --support tests/it/support/mod.rs \
        --files "$FILES" --commits "$COMMITS" --specs-out "$tmp/specs-$name" "$@" |
        git --git-dir="$tmp/srv/$name" fast-import --quiet
    git --git-dir="$tmp/srv/$name" repack -adq
    # No auto-gc in the middle of a timed push.
    git --git-dir="$tmp/srv/$name" config gc.auto 0
    git --git-dir="$tmp/srv/$name" config receive.autogc false
}
experiment_id() { # spec
    "$assay" validate "$1" | sed -n 's/.*experiment \([0-9a-f]*\))$/\1/p'
}
build_repo env.git bookinfo
apps=()
for i in $(seq 0 $((RACERS - 1))); do apps+=("$(printf 'app%02d' "$i")"); done
build_repo race.git "${apps[@]}"

base=$(git --git-dir="$tmp/srv/env.git" rev-parse refs/heads/main)
race_base=$(git --git-dir="$tmp/srv/race.git" rev-parse refs/heads/main)
id=$(experiment_id "$tmp/specs-env.git/bookinfo/assay.yaml")
[[ -n $id ]] || missing "an experiment id" "assay validate did not report one"
race_ids=()
for app in "${apps[@]}"; do
    race_ids+=("$app=$(experiment_id "$tmp/specs-race.git/$app/assay.yaml")")
done

# --- git daemon -----------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --max-connections=0: the default (32) would drop, or kill, connections
# during the race of 32 writers plus the noise loop.
"$git_daemon" --export-all --enable=receive-pack --base-path="$tmp/srv" \
    --listen=127.0.0.1 --port="$port" --reuseaddr --max-connections=0 2>"$tmp/daemon.log" &
daemon_pid=$!
url=git://127.0.0.1:$port/env.git
race_url=git://127.0.0.1:$port/race.git
deadline=$((SECONDS + 20))
until git ls-remote "$url" main >/dev/null 2>&1; do
    sleep 0.05
    if ! kill -0 "$daemon_pid" 2>/dev/null || ((SECONDS > deadline)); then
        cat "$tmp/daemon.log" >&2
        missing "a working git daemon" "it did not answer on 127.0.0.1:$port within 20 s"
    fi
done
echo "git daemon (pid $daemon_pid) serving $tmp/srv on 127.0.0.1:$port" >&2

count() { git --git-dir="$tmp/srv/$1" "${@:2}"; }
pack_kib=$(du -sk "$tmp/srv/env.git/objects/pack" | cut -f1)
race_pack_kib=$(du -sk "$tmp/srv/race.git/objects/pack" | cut -f1)

cat <<EOF
## assay writeback vs the git CLI, and the 32-way race

- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)
- load at start: $(uptime | sed 's/^ *//')
- assay $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with local changes)'), $(rustc --version), libgit2 $(sed -n '/^name = "libgit2-sys"$/{n;s/^version = ".*+\(.*\)"$/\1/p}' Cargo.lock) (vendored by libgit2-sys)
- $(git --version), served by \`git daemon --export-all --enable=receive-pack --reuseaddr --max-connections=0\` on 127.0.0.1 (gc.auto 0)
- command: \`benches/writeback.sh\` (ROUNDS=$ROUNDS WARMUP=$WARMUP HYPERFINE_RUNS=$HYPERFINE_RUNS RACES=$RACES RACERS=$RACERS NOISE=$NOISE)
- env.git: $(count env.git ls-tree -r --name-only main | wc -l) files at the head, $(count env.git rev-list --count main) commits, one pack of $pack_kib KiB ($(count env.git count-objects -v | sed -n 's/^in-pack: //p') objects); \`envs/bookinfo/assay.yaml\` proposes candidate v2, experiment \`$id\`
- race.git: $(count race.git ls-tree -r --name-only main | wc -l) files, $(count race.git rev-list --count main) commits, one pack of $race_pack_kib KiB; \`envs/app00\`…\`envs/app$(printf '%02d' $((RACERS - 1)))\` each propose candidate v2

EOF

if ((ROUNDS > 0)); then
    python3 benches/writeback_timing.py compare --assay "$assay" --url "$url" \
        --git-dir "$tmp/srv/env.git" --base "$base" --path envs/bookinfo/assay.yaml --id "$id" \
        --spec "$tmp/specs-env.git/bookinfo/assay.yaml" --daemon-pid "$daemon_pid" \
        --workdir "$tmp" --rounds "$ROUNDS" --warmup "$WARMUP" --hyperfine-runs "$HYPERFINE_RUNS"
fi

if ((RACES > 0)); then
    python3 benches/writeback_timing.py race --assay "$assay" --url "$race_url" \
        --git-dir "$tmp/srv/race.git" --base "$race_base" --daemon-pid "$daemon_pid" \
        --workdir "$tmp" --reps "$RACES" --noise "$NOISE" "${race_ids[@]}"
fi
echo "- load at end: $(uptime | sed 's/^ *//')"
