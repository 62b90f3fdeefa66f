#!/usr/bin/env bash
# Whole-process benchmark of `assay generate` on samples/bookinfo-kustomize
# (with a candidate proposed) against `kubectl kustomize` alone on the same
# overlay, interleaved in one run: assay's overhead over the tool it wraps
# (issue 12's target: at most 10 %). Prints markdown on stdout (recorded in
# docs/benchmarks-adopt.md); progress on stderr.
#
#   benches/adopt.sh                 # 200 rounds, 20 warm-up
#   ROUNDS=50 benches/adopt.sh       # quick
#
# Needs: cargo, python3, kubectl (kustomize built in; KUBECTL=/path/to/kubectl).
set -euo pipefail

ROUNDS=${ROUNDS:-200}
WARMUP=${WARMUP:-20}
KUBECTL=${KUBECTL:-kubectl}

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v "$KUBECTL" >/dev/null || missing kubectl "install kubectl or set KUBECTL=/path/to/kubectl"
KUBECTL=$(realpath -s "$(command -v "$KUBECTL")")

build_image_binary

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R samples/bookinfo-kustomize "$tmp/app"
propose_candidate "$tmp/app/assay.yaml"

rustc_version=$(rustc --version)

# assay finds kubectl on PATH (no standalone kustomize), as in the tests.
mkdir "$tmp/bin"
ln -s "$KUBECTL" "$tmp/bin/kubectl"
export PATH="$tmp/bin:/usr/bin:/bin"
export ARGOCD_APP_NAME=bookinfo ARGOCD_APP_NAMESPACE=bookinfo
export ARGOCD_APP_SOURCE_REPO_URL=https://github.com/YOUR_ORG/bookinfo-env.git
export ARGOCD_APP_SOURCE_PATH=samples/bookinfo-kustomize ARGOCD_APP_SOURCE_TARGET_REVISION=main

(cd "$tmp/app" && "$assay" generate >/dev/null)

cat <<MD
## assay generate (kustomize source) vs kubectl kustomize alone

- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)
- assay $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $rustc_version
- $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')
- commands, both run in the app directory as argocd-cmp-server runs the
  plugin: \`assay generate\` (samples/bookinfo-kustomize + candidate: runs
  \`kubectl kustomize overlays/prod\` and renders), \`kubectl kustomize overlays/prod\`
- load average before: $(cut -d' ' -f1-3 /proc/loadavg)

MD
echo "timing: $ROUNDS interleaved rounds (+$WARMUP warm-up)" >&2
# In the app directory, as argocd-cmp-server runs the plugin (cwd = the
# Application's path): the tool then inherits it (src/source/tools.rs).
(cd "$tmp/app" && python3 "$root/benches/adopt_timing.py" --rounds "$ROUNDS" --warmup "$WARMUP" \
    "assay=$assay generate" \
    "kustomize=$KUBECTL kustomize overlays/prod")
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
