# The kube9-operator image: a static binary on a distroless base, cross-compiled for every
# platform on the build machine's own architecture (no QEMU emulation of the compiler).
#
# Base images are build arguments so that air-gapped and test environments can substitute
# mirrors; the defaults are the public images pinned by digest (update tag and digest together,
# e.g. with Dependabot).
ARG RUST_IMAGE=docker.io/library/rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639

FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS toolchain
ARG BUILDARCH
# The cross C compiler is only for `ring` (TLS); it depends on BUILDARCH alone, so both target
# platforms share this layer.
RUN set -eu; \
    case "$BUILDARCH" in \
      amd64) cross="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
      arm64) cross="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
      *) echo "unsupported build architecture $BUILDARCH" >&2; exit 1 ;; \
    esac; \
    apt-get update -q; \
    apt-get install -y -q --no-install-recommends $cross; \
    rm -rf /var/lib/apt/lists/*; \
    rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl
COPY --chmod=0755 <<'SH' /usr/local/bin/cargo-target
#!/bin/sh
# Runs cargo for the musl target of $TARGETARCH with the matching C compiler and linker.
set -eu
case "$TARGETARCH" in
  amd64) triple=x86_64-unknown-linux-musl; gnu=x86_64-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-musl; gnu=aarch64-linux-gnu ;;
  *) echo "unsupported target architecture $TARGETARCH" >&2; exit 1 ;;
esac
if [ "$TARGETARCH" = "$BUILDARCH" ]; then cc=gcc; else cc="$gnu-gcc"; fi
upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
lower=$(echo "$triple" | tr '-' '_')
export "CARGO_TARGET_${upper}_LINKER=$cc" "CC_${lower}=$cc" CARGO_BUILD_TARGET="$triple"
# cc-rs reruns build scripts when SOURCE_DATE_EPOCH changes, which would rebuild every
# dependency for each new commit; the compiled output does not depend on it.
unset SOURCE_DATE_EPOCH
exec cargo "$@"
SH

FROM toolchain AS build
ARG TARGETARCH
ARG BUILDARCH
WORKDIR /src
# Dependencies first, from the manifests alone: a change to the operator's source reuses them.
COPY Cargo.toml Cargo.lock ./
COPY operator/Cargo.toml operator/
COPY xtask/Cargo.toml xtask/
RUN mkdir -p operator/src xtask/src \
    && echo 'fn main() {}' > operator/src/main.rs \
    && touch operator/src/lib.rs \
    && echo 'fn main() {}' > xtask/src/main.rs
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    cargo-target build --release --locked --package kube9-operator
COPY operator/src operator/src
# Declared only now so that a new version or commit does not rebuild the dependencies.
ARG VERSION
ARG COMMIT
ARG SOURCE_DATE_EPOCH
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    set -eu; \
    touch operator/src/*.rs; \
    KUBE9_VERSION="$VERSION" KUBE9_COMMIT="$COMMIT" cargo-target build --release --locked --package kube9-operator; \
    mkdir -p /out; \
    cp target/*-unknown-linux-musl/release/kube9-operator /out/kube9-operator

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/kube9-operator /usr/local/bin/kube9-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kube9-operator"]
