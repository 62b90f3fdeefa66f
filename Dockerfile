# assay container image: one binary, two roles.
#
# - CMP sidecar of argocd-repo-server (samples/install/repo-server-patch.yaml):
#   the pod spec overrides the entrypoint with
#   `command: [/var/run/argocd/argocd-cmp-server]`; that server then runs
#   `assay generate` / `assay parameters` (plugin.yaml) from PATH.
# - PostSync/SyncFail hook Job image: the rendered Job runs `assay promote`.
#
# Build: docker build -t ghcr.io/assay-dev/assay:v0.1.0 .

# Build stage. The rust image ships perl, make and gcc, which the vendored
# OpenSSL and libgit2 builds need.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# A static, non-PIE executable (glibc linked in; its DNS and /etc/passwd
# lookups are built into the static libc, nothing is dlopen'ed): no dynamic
# loader, no shared libraries to map and no relocations to apply at start-up,
# which is a sixth of `generate`'s run time. With an explicit --target the
# flags reach only our binary, not build scripts or proc-macros.
RUN target=$(rustc -vV | sed -n 's/^host: //p') \
 && RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --locked --target "$target" \
 && install -D -m 0755 "target/$target/release/assay" /out/assay

# Runtime stage: CA certificates, /etc/passwd and nsswitch.conf; no libc,
# no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
# The vendored OpenSSL looks for CA certificates under its own build prefix;
# point it (and libgit2) at the system bundle for Prometheus, API and Git TLS.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/assay /usr/local/bin/assay
# 999 is the uid Argo CD's CMP sidecar convention uses (runAsUser: 999).
USER 999:999
ENTRYPOINT ["/usr/local/bin/assay"]
