# The kube9-operator image: a static binary on a distroless base. Both platforms' binaries are
# cross-compiled in one cargo invocation on the build machine's own architecture: no QEMU, and
# the host side (proc macros, build scripts) is compiled once for both.
#
# Base images are named literally, tag and digest, so that Dependabot can update them; a
# mirror (or the local test environment) substitutes them with
# `docker buildx build --build-context <image>=docker-image://<mirror>`.
FROM --platform=$BUILDPLATFORM docker.io/library/rust:1.95.0-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS rust

# cargo-auditable embeds the dependency list in the binary, so that Trivy (and anyone) can see
# the crates inside it. Only the operator's own link needs it, so its stage compiles beside the
# dependencies; unoptimized and without debug information, since its speed is irrelevant and
# its output the same.
FROM rust AS auditable
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \
    CARGO_PROFILE_DEV_DEBUG=0 cargo install cargo-auditable --locked --version 0.7.7 --debug --root /opt/cargo-auditable

# The C cross compiler is only for `ring` (TLS). Packages are pinned by version, so a rebuild
# of a released commit uses the same compiler (update them together with the base image).
FROM rust AS toolchain
ARG BUILDARCH
RUN set -eu; \
    case "$BUILDARCH" in \
      amd64) cross="gcc-12-aarch64-linux-gnu=12.2.0-14cross1 binutils-aarch64-linux-gnu=2.40-2 libc6-dev-arm64-cross=2.36-8cross1" ;; \
      arm64) cross="gcc-12-x86-64-linux-gnu=12.2.0-14cross1 binutils-x86-64-linux-gnu=2.40-2 libc6-dev-amd64-cross=2.36-8cross1" ;; \
      *) echo "unsupported build architecture $BUILDARCH" >&2; exit 1 ;; \
    esac; \
    apt-get update -q; \
    apt-get install -y -q --no-install-recommends $cross; \
    rm -rf /var/lib/apt/lists/*; \
    rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl
COPY --chmod=0755 <<'SH' /usr/local/bin/cargo-musl
#!/bin/sh
# Runs `cargo <arguments>` for the musl targets of $PLATFORMS at once, each with its C compiler
# and linker: the native gcc for the build machine's architecture, the cross gcc for the other.
set -eu
case "$(uname -m)" in
  x86_64) amd64=gcc; arm64=aarch64-linux-gnu-gcc-12 ;;
  aarch64) amd64=x86_64-linux-gnu-gcc-12; arm64=gcc ;;
  *) echo "unsupported build architecture $(uname -m)" >&2; exit 1 ;;
esac
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER="$amd64" CC_x86_64_unknown_linux_musl="$amd64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER="$arm64" CC_aarch64_unknown_linux_musl="$arm64"
# cc-rs reruns build scripts when SOURCE_DATE_EPOCH changes, which would rebuild every
# dependency for each new commit; the compiled output does not depend on it.
unset SOURCE_DATE_EPOCH
targets=""
for platform in $(echo "$PLATFORMS" | tr ',' ' '); do
  case "$platform" in
    linux/amd64) targets="$targets --target x86_64-unknown-linux-musl" ;;
    linux/arm64) targets="$targets --target aarch64-unknown-linux-musl" ;;
    *) echo "unsupported platform $platform" >&2; exit 1 ;;
  esac
done
exec cargo "$@" $targets
SH
COPY --chmod=0755 <<'SH' /usr/local/bin/collect-binaries
#!/bin/sh
# /out/<arch>/kube9-operator for each platform of $PLATFORMS.
set -eu
for platform in $(echo "$PLATFORMS" | tr ',' ' '); do
  arch="${platform#linux/}"
  case "$arch" in amd64) triple=x86_64-unknown-linux-musl ;; arm64) triple=aarch64-unknown-linux-musl ;; esac
  mkdir -p "/out/$arch"
  cp "target/$triple/release/kube9-operator" "/out/$arch/"
done
SH

# No TARGETARCH here: BuildKit runs this stage once for every platform of the build, and
# compiles the host side (proc macros, build scripts) once for all of them.
FROM toolchain AS build
# The platforms of the whole build (the release passes them), one value for all of them.
ARG PLATFORMS=linux/amd64,linux/arm64
WORKDIR /src
# Dependencies first, from the manifests alone: a change to the operator's source reuses them.
# The release tooling's manifests are there only for the workspace to resolve; none of it is
# built here.
COPY Cargo.toml Cargo.lock ./
COPY operator/Cargo.toml operator/
COPY xtask/Cargo.toml xtask/
COPY xtask/release/Cargo.toml xtask/release/
COPY xtask/release-cli/Cargo.toml xtask/release-cli/
COPY xtask/devenv/Cargo.toml xtask/devenv/
RUN mkdir -p operator/src xtask/src xtask/release/src xtask/release-cli/src xtask/devenv/src \
    && echo 'fn main() {}' > operator/src/main.rs \
    && touch operator/src/lib.rs \
    && echo 'fn main() {}' > xtask/src/main.rs \
    && touch xtask/release/src/lib.rs xtask/release-cli/src/lib.rs xtask/devenv/src/lib.rs \
    && echo 'fn main() {}' > xtask/release-cli/src/main.rs
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \
    cargo-musl build --release --locked --package kube9-operator
# Dependencies carry no audit data of their own: cargo-auditable wraps only the workspace's
# crates, so the layer above is reused by `cargo auditable build` unchanged.
COPY --from=auditable /opt/cargo-auditable/bin/cargo-auditable /usr/local/cargo/bin/
COPY operator/src operator/src
# Declared only now so that a new version or commit does not rebuild the dependencies.
ARG VERSION
ARG COMMIT
ARG SOURCE_DATE_EPOCH
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry \
    set -eu; \
    touch operator/src/*.rs; \
    KUBE9_VERSION="$VERSION" KUBE9_COMMIT="$COMMIT" cargo-musl auditable build --release --locked --package kube9-operator; \
    collect-binaries

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG TARGETARCH
COPY --from=build /out/${TARGETARCH}/kube9-operator /usr/local/bin/kube9-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kube9-operator"]
