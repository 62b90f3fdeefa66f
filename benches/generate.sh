#!/usr/bin/env bash
# Whole-process benchmark of `assay generate` on samples/bookinfo with a
# candidate proposed, against `kubectl kustomize` on benches/kustomize (an
# overlay that builds the same objects) and against /bin/true, interleaved in
# one run. Prints markdown (results, hyperfine cross-check, target checks) on
# stdout; progress on stderr.
#
#   benches/generate.sh                  # 300 rounds, 20 warm-up, RSS over 20 runs
#   ROUNDS=50 RSS_RUNS=5 HYPERFINE_RUNS=0 benches/generate.sh   # quick, no cross-check
#   PIE=1 benches/generate.sh            # plain `cargo build --release` binary (dynamic), not the image's
#
# Needs: cargo, python3 with PyYAML, kubectl (kustomize is built in), GNU time
# at /usr/bin/time; hyperfine is optional (cross-check only); valgrind is
# optional (instructions, and the code pages they span: whether
# link-order.txt is still current, see benches/link-order.sh).
set -euo pipefail

ROUNDS=${ROUNDS:-300}
WARMUP=${WARMUP:-20}
RSS_RUNS=${RSS_RUNS:-20}
HYPERFINE_RUNS=${HYPERFINE_RUNS:-$ROUNDS}
KUBECTL=${KUBECTL:-kubectl}

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python3 -c 'import yaml' 2>/dev/null || missing "PyYAML" "install python3-yaml (or pip install pyyaml)"
command -v "$KUBECTL" >/dev/null || missing kubectl "install kubectl or set KUBECTL=/path/to/kubectl"
[[ -x /usr/bin/time ]] || missing "/usr/bin/time" "install the 'time' package (apt-get install -y time)"
command -v hyperfine >/dev/null ||
    echo "$bench: hyperfine is missing (apt-get install -y hyperfine); skipping the cross-check" >&2

# Build the binary the image ships (Dockerfile: a static, non-PIE executable:
# no loader, no shared libraries, no relocations); PIE=1 measures a plain
# `cargo build --release` (dynamic, PIE) instead.
if [[ ${PIE:-0} == 1 ]]; then
    build="cargo build --release --locked"
    echo "building: $build" >&2
    build_release
else
    build_image_binary
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# samples/bookinfo with the candidate CI would propose: BOOKINFO_CANDIDATE
# from the integration tests, inserted before the traffic block.
cp -R samples/bookinfo "$tmp/bookinfo"
propose_candidate "$tmp/bookinfo/assay.yaml"

# What Argo CD's repo-server sets for the sample Application (samples/bookinfo/argocd-app.yaml).
export ARGOCD_APP_NAME=bookinfo
export ARGOCD_APP_NAMESPACE=bookinfo
export ARGOCD_APP_SOURCE_REPO_URL=https://github.com/YOUR_ORG/bookinfo-env.git
export ARGOCD_APP_SOURCE_PATH=samples/bookinfo
export ARGOCD_APP_SOURCE_TARGET_REVISION=main

overlay=benches/kustomize/overlays/candidate
"$assay" generate "$tmp/bookinfo" >"$tmp/assay.yaml"
"$KUBECTL" kustomize "$overlay" >"$tmp/kustomize.yaml"
echo "checking that both build the same objects" >&2
python3 benches/check_kustomize.py "$tmp/assay.yaml" "$tmp/kustomize.yaml" >&2

cat <<EOF
## assay generate vs kubectl kustomize vs /bin/true

- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)
- assay $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with local changes)'), $(rustc --version)
- $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')
- binary: $(stat -c %s "$assay") bytes, built with \`$build\`
- commands: \`assay generate DIR\` (samples/bookinfo + candidate, in a temp dir),
  \`$KUBECTL kustomize $overlay\`, \`/bin/true\`
EOF

echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "timing: $ROUNDS interleaved rounds (+$WARMUP warm-up), then RSS, then hyperfine" >&2
python3 benches/timing.py --rounds "$ROUNDS" --warmup "$WARMUP" --rss-runs "$RSS_RUNS" \
    --hyperfine-runs "$HYPERFINE_RUNS" \
    "assay=$assay generate $tmp/bookinfo" \
    "kustomize=$KUBECTL kustomize $overlay" \
    "true=/bin/true"
echo
if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$tmp/callgrind" \
        "$assay" generate "$tmp/bookinfo" >/dev/null 2>"$tmp/callgrind.log"
    echo "- callgrind, one \`assay generate\`: $(python3 benches/link_order.py --spread "$tmp/callgrind")"
fi
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the absolute numbers; the interleaving keeps the ratios fair)"
