# assay container image: one binary, two roles.
#
# - CMP sidecar of argocd-repo-server (samples/install/repo-server-patch.yaml):
#   the pod spec overrides the entrypoint with
#   `command: [/var/run/argocd/argocd-cmp-server]`; that server then runs
#   `assay generate` / `assay parameters` (plugin.yaml) from PATH.
# - PostSync/SyncFail hook Job image: the rendered Job runs `assay promote`.
#
# Build: docker build -t ghcr.io/assay-dev/assay:v0.1.0 .
#
# A second target, `tools`, adds pinned kustomize and helm for apps whose
# assay.yaml renders a Kustomize overlay or a Helm chart (spec.source), run as
# the assay-tools sidecar (samples/install/tools/):
#   docker build --target tools -t ghcr.io/assay-dev/assay-tools:v0.1.0 .

# Build stage. The rust image ships perl, make and gcc, which the vendored
# OpenSSL and libgit2 builds need.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# A static, non-PIE executable (glibc linked in; its DNS and /etc/passwd
# lookups are built into the static libc, nothing is dlopen'ed): no dynamic
# loader, no shared libraries to map and no relocations to apply at start-up,
# which is a sixth of `generate`'s run time. With an explicit --target the
# flags reach only our binary, not build scripts or proc-macros. build.rs
# hands link-order.txt to the linker (x86_64), which places the code
# `generate` runs together (docs/benchmarks.md, "Code layout").
RUN target=$(rustc -vV | sed -n 's/^host: //p') \
 && RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --locked --target "$target" \
 && install -D -m 0755 "target/$target/release/assay" /out/assay

# kustomize and helm for the `tools` target, pinned by version and by the
# sha256 their projects publish (kustomize's checksums.txt, helm's
# <archive>.sha256sum); a mismatch fails the build. Both are static Go
# binaries, so they run on distroless/static like assay.
FROM debian:bookworm-slim AS tools-download
ARG TARGETARCH=amd64
ARG KUSTOMIZE_VERSION=v5.7.1
ARG KUSTOMIZE_SHA256_AMD64=ea375e7372f9aa029129d4b2d16c66b7750b7f1213c4f66f910d981c895818d8
ARG KUSTOMIZE_SHA256_ARM64=4261a040217df3bd6896597c3986d1465925726e4f22a945304b5233a4dcdbda
ARG HELM_VERSION=v4.1.4
ARG HELM_SHA256_AMD64=70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09
ARG HELM_SHA256_ARM64=13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /dl
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) k="$KUSTOMIZE_SHA256_AMD64"; h="$HELM_SHA256_AMD64" ;; \
      arm64) k="$KUSTOMIZE_SHA256_ARM64"; h="$HELM_SHA256_ARM64" ;; \
      *) echo "no pinned checksums for $TARGETARCH" >&2; exit 1 ;; \
    esac; \
    curl -fsSL --proto '=https' -o kustomize.tar.gz \
      "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F${KUSTOMIZE_VERSION}/kustomize_${KUSTOMIZE_VERSION}_linux_${TARGETARCH}.tar.gz"; \
    curl -fsSL --proto '=https' -o helm.tar.gz \
      "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    printf '%s  kustomize.tar.gz\n%s  helm.tar.gz\n' "$k" "$h" | sha256sum --check --strict; \
    tar -xzf kustomize.tar.gz kustomize; \
    tar -xzf helm.tar.gz --strip-components=1 "linux-${TARGETARCH}/helm"; \
    install -D -m 0755 kustomize /out/kustomize; \
    install -D -m 0755 helm /out/helm

# The assay-tools sidecar image: the default image plus kustomize and helm,
# and its plugin config baked in (the ConfigMap in samples/install/tools/
# mounts the same file over it).
FROM gcr.io/distroless/static-debian12:nonroot AS tools
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/assay /usr/local/bin/assay
COPY --from=tools-download /out/kustomize /out/helm /usr/local/bin/
COPY plugin-tools.yaml /home/argocd/cmp-server/config/plugin.yaml
USER 999:999
ENTRYPOINT ["/usr/local/bin/assay"]

# Runtime stage (the default target: last, so `docker build .` builds it):
# CA certificates, /etc/passwd and nsswitch.conf; no libc,
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
# The vendored OpenSSL looks for CA certificates under its own build prefix;
# point it (and libgit2) at the system bundle for Prometheus, API and Git TLS.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/assay /usr/local/bin/assay
# 999 is the uid Argo CD's CMP sidecar convention uses (runAsUser: 999).
USER 999:999
ENTRYPOINT ["/usr/local/bin/assay"]
