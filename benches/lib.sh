# Sourced by the benchmark scripts: run from the repository root, say which
# tool is missing and how to get it, and build the release binary.
# shellcheck shell=bash

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bench=benches/$(basename "$0")

missing() { # tool, how to get it
    echo "$bench: $1 is missing; $2" >&2
    exit 1
}

need() { # command, how to get it
    command -v "$1" >/dev/null || missing "$1" "$2"
}

need cargo "install Rust 1.95 or newer"
need python3 "install python3"

need_git_daemon() {
    need git "install git"
    git_daemon=$(git --exec-path)/git-daemon
    [[ -x $git_daemon ]] || missing git-daemon "install git-daemon-sysvinit or your distribution's git daemon package"
}

# Proposes in the spec file $1 the candidate the integration tests use
# (BOOKINFO_CANDIDATE in tests/it/support/mod.rs), before the traffic block.
propose_candidate() {
    python3 - "$1" tests/it/support/mod.rs <<'EOF'
import ast, re, sys
spec, support = sys.argv[1], sys.argv[2]
literal = re.search(r'BOOKINFO_CANDIDATE: &str = ("(?:[^"\\]|\\.)*");', open(support).read())
candidate = ast.literal_eval(literal.group(1))
text = open(spec).read()
at = text.index("  traffic:\n")
open(spec, "w").write(text[:at] + candidate + text[at:])
EOF
}

# The binary the image ships (Dockerfile: a static, non-PIE executable: no
# loader, no shared libraries, no relocations); sets $assay and $build.
build_image_binary() {
    local host flags
    host=$(rustc -vV | sed -n 's/^host: //p')
    flags="-C target-feature=+crt-static -C relocation-model=static"
    build="RUSTFLAGS=\"$flags\" cargo build --release --locked --target $host"
    echo "building: $build" >&2
    RUSTFLAGS="$flags" cargo build --release --locked --target "$host" >&2
    assay=$root/target/$host/release/assay
}

# A plain `cargo build --release`; sets $assay.
build_release() {
    echo "building: cargo build --release --locked" >&2
    cargo build --release --locked >&2
    assay=$root/target/release/assay
}

# --- loopback servers (promote.sh, timeline.sh) ----------------------------------
# A scratch dir $tmp, and Prometheus and git daemon stopped with it on exit.
# No user or system git configuration on either side.
servers_init() {
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    tmp=$(mktemp -d)
    daemon_pid=
    prom_pid=
    trap servers_cleanup EXIT
    trap 'exit 130' INT TERM
}

stop_pid() { # pid
    if [[ -n $1 ]]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}

servers_cleanup() {
    stop_pid "$daemon_pid"
    stop_pid "$prom_pid"
    rm -rf "$tmp"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() { # pid, what, seconds, log file, check command...
    local pid=$1 what=$2 limit=$3 log=$4
    shift 4
    local deadline=$((SECONDS + limit))
    until "$@" 2>/dev/null; do
        sleep 0.05
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
            cat "$log" >&2
            missing "a working $what" "it was not ready within $limit s"
        fi
    done
}

# Prometheus on $tmp/prom/data.om (OpenMetrics, backfilled with promtool);
# sets $prom_pid and $prom_url.
start_prometheus() {
    echo "backfilling $(wc -l <"$tmp/prom/data.om") lines: promtool tsdb create-blocks-from openmetrics" >&2
    promtool tsdb create-blocks-from openmetrics "$tmp/prom/data.om" "$tmp/prom/tsdb" >"$tmp/prom/promtool.log" 2>&1 ||
        { cat "$tmp/prom/promtool.log" >&2; missing "a working promtool" "the backfill failed"; }
    echo "scrape_configs: []" >"$tmp/prom/prometheus.yml"
    local port
    port=$(free_port)
    prometheus --config.file="$tmp/prom/prometheus.yml" --storage.tsdb.path="$tmp/prom/tsdb" \
        --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=10y \
        >"$tmp/prom/prometheus.log" 2>&1 &
    prom_pid=$!
    prom_url=http://127.0.0.1:$port
    wait_ready "$prom_pid" Prometheus 60 "$tmp/prom/prometheus.log" python3 -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/-/ready", timeout=2)' "$prom_url"
    echo "prometheus (pid $prom_pid) ready on $prom_url" >&2
}

# git daemon serving $tmp/srv with pushes; sets $daemon_pid and $port.
start_git_daemon() {
    mkdir -p "$tmp/srv"
    port=$(free_port)
    "$git_daemon" --export-all --enable=receive-pack --base-path="$tmp/srv" \
        --listen=127.0.0.1 --port="$port" --reuseaddr 2>"$tmp/daemon.log" &
    daemon_pid=$!
    wait_ready "$daemon_pid" "git daemon" 20 "$tmp/daemon.log" python3 -c \
        'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port"
    echo "git daemon (pid $daemon_pid) serving $tmp/srv on 127.0.0.1:$port" >&2
}

# The preamble's common lines: machine, load, assay's commit, the servers.
servers_preamble() { # build description
    echo "- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)"
    echo "- load at start: $(uptime | sed 's/^ *//')"
    echo "- assay $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with local changes)'), $(rustc --version), $1"
    echo "- $(prometheus --version 2>&1 | head -1) on 127.0.0.1, data from \`promtool tsdb create-blocks-from openmetrics\`: $(wc -l <"$tmp/prom/data.om") lines"
}
