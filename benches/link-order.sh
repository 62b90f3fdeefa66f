#!/usr/bin/env bash
# Regenerates link-order.txt, the list of functions `assay generate` runs,
# which build.rs hands to the linker so that they sit together in the
# release binary (docs/benchmarks.md, "Code layout"). Run it after changes
# that move much of the generate path (a new dependency, a refactor of
# rendering or YAML), then rebuild; benches/generate.sh shows the effect.
#
#   PATH=.ci/bin:$PATH benches/link-order.sh
#
# It builds the image binary with the linker's map (ASSAY_LINK_MAP), runs
# `generate` under callgrind on samples/bookinfo (with and without a
# candidate) and, when kubectl and helm are on PATH, on the Kustomize and
# Helm samples, and maps every executed instruction to its input section.
# Needs: cargo, python3, valgrind; kubectl and helm optional.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need valgrind "install valgrind (apt-get install -y valgrind)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export ASSAY_LINK_MAP=$tmp/assay.map
build_image_binary
unset ASSAY_LINK_MAP

export ARGOCD_APP_NAME=bookinfo ARGOCD_APP_NAMESPACE=bookinfo
export ARGOCD_APP_SOURCE_REPO_URL=https://github.com/YOUR_ORG/bookinfo-env.git
export ARGOCD_APP_SOURCE_TARGET_REVISION=main

profiles=()
profile() { # name, sample, with a candidate (yes/no)
    cp -R "samples/$2" "$tmp/$1"
    [[ $3 == yes ]] && propose_candidate "$tmp/$1/assay.yaml"
    echo "callgrind: assay generate ($1)" >&2
    ARGOCD_APP_SOURCE_PATH=samples/$2 valgrind --tool=callgrind --dump-instr=yes \
        --callgrind-out-file="$tmp/$1.callgrind" "$assay" generate "$tmp/$1" >/dev/null 2>"$tmp/$1.log" ||
        { cat "$tmp/$1.log" >&2; exit 1; }
    profiles+=("$tmp/$1.callgrind")
}

profile candidate bookinfo yes
profile steady bookinfo no
if command -v kubectl >/dev/null || command -v kustomize >/dev/null; then
    profile kustomize bookinfo-kustomize yes
else
    echo "$bench: no kubectl or kustomize on PATH; the Kustomize sample is left out" >&2
fi
if command -v helm >/dev/null; then
    profile helm bookinfo-helm yes
else
    echo "$bench: no helm on PATH; the Helm sample is left out" >&2
fi

python3 benches/link_order.py "$tmp/assay.map" "${profiles[@]}" >link-order.txt
echo "wrote link-order.txt ($(wc -l <link-order.txt) sections); rebuild to use it" >&2
