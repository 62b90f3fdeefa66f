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

# A plain `cargo build --release`; sets $assay.
build_release() {
    echo "building: cargo build --release --locked" >&2
    cargo build --release --locked >&2
    assay=$root/target/release/assay
}
