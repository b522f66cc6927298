#!/usr/bin/env bash
# Builds the Dockerfile for real where no Docker engine runs, then runs the image's command and
# its HEALTHCHECK and reports the image size.
#
#   sudo scripts/container-build.sh          (root: buildah with vfs storage, chroot isolation)
#
# Nothing can be pulled here, so the two base images the Dockerfile names are made locally:
#   docker.io/library/debian:bookworm-slim        debootstrap --variant=minbase (+ ca-certificates)
#   docker.io/library/rust:<RUST_VERSION>-slim-bookworm
#                                                 the same + gcc/libc6-dev/binutils + this
#                                                 machine's Rust toolchain (same version as ARG)
# and crates are vendored (`cargo vendor`) into the build context's deploy/cargo/, which the
# Dockerfile copies to .cargo/, so cargo builds offline. Base images are kept between runs.
# Needs: apt-get install -y buildah debootstrap. `--format docker`: the OCI format has no HEALTHCHECK.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FASTGATE_BUILD_WORK:-/var/tmp/fastgate-container}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
IMAGE=${FASTGATE_IMAGE:-localhost/fastgate:latest}
PORT=${FASTGATE_TEST_PORT:-3000}
RUST_VERSION=$(sed -n 's/^ARG RUST_VERSION=//p' "$ROOT/Dockerfile")
SLIM=docker.io/library/debian:${SUITE}-slim
BUILDER=docker.io/library/rust:${RUST_VERSION}-slim-${SUITE}
export BUILDAH_ISOLATION=chroot
B=(buildah --storage-driver vfs)

say() { printf '\n== %s\n' "$*"; }
for tool in buildah debootstrap cargo rustc; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install -y buildah debootstrap)"; exit 1; }
done
host_rust=$(rustc --version | awk '{print $2}')
case "$host_rust" in
    "$RUST_VERSION"*) ;;
    *) echo "the host toolchain is $host_rust, the Dockerfile wants $RUST_VERSION"; exit 1 ;;
esac
mkdir -p "$WORK"

have_image() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# A rootfs directory → an image tagged $2, with extra `buildah config` arguments after it.
commit_rootfs() {
    local rootfs=$1 tag=$2; shift 2
    local ctr mnt
    ctr=$("${B[@]}" from scratch)
    mnt=$("${B[@]}" mount "$ctr")
    cp -a "$rootfs"/. "$mnt"/
    "${B[@]}" umount "$ctr" >/dev/null
    "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" "$ctr"
    "${B[@]}" commit --quiet "$ctr" "$tag" >/dev/null
    "${B[@]}" rm "$ctr" >/dev/null
}

bootstrap() {
    local dir=$1 include=$2
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$include" "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 \
        || { tail -20 "$dir.log"; exit 1; }
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
}

if ! have_image "$SLIM"; then
    say "bootstrapping $SLIM"
    bootstrap "$WORK/rootfs-slim" ca-certificates
    commit_rootfs "$WORK/rootfs-slim" "$SLIM"
fi
if ! have_image "$BUILDER"; then
    say "bootstrapping $BUILDER (Debian + gcc + Rust $host_rust from this machine)"
    bootstrap "$WORK/rootfs-rust" ca-certificates,gcc,libc6-dev,binutils,make
    sysroot=$(rustc --print sysroot)
    mkdir -p "$WORK/rootfs-rust/usr/local/rust"
    cp -a "$sysroot/bin" "$sysroot/lib" "$WORK/rootfs-rust/usr/local/rust/"
    commit_rootfs "$WORK/rootfs-rust" "$BUILDER" \
        --env PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env CARGO_HOME=/usr/local/cargo
fi

say "build context with vendored crates"
CTX="$WORK/context"
rm -rf "$CTX"
mkdir -p "$CTX"
(cd "$ROOT" && cp -a Cargo.toml Cargo.lock Dockerfile .dockerignore src templates static deploy "$CTX"/)
(cd "$ROOT" && cargo vendor --locked --quiet "$CTX/deploy/cargo/vendor" >/dev/null)
cat >"$CTX/deploy/cargo/config.toml" <<'TOML'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = ".cargo/vendor"

[net]
offline = true
TOML

say "buildah bud -t $IMAGE"
started=$(date +%s)
"${B[@]}" bud --format docker --isolation chroot --layers=false -t "$IMAGE" -f "$CTX/Dockerfile" "$CTX"
echo "built in $(( $(date +%s) - started ))s"

say "running the image's command and HEALTHCHECK"
health=$("${B[@]}" inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' "$IMAGE")
entry=$("${B[@]}" inspect --type image --format '{{.Docker.Config.Entrypoint}} {{.Docker.Config.Cmd}} user={{.Docker.Config.User}} env={{.Docker.Config.Env}}' "$IMAGE")
echo "healthcheck: $health"
echo "config: $entry"
ctr=$("${B[@]}" from "$IMAGE")
trap '"${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
# The image's own ENTRYPOINT + CMD, ENV, USER and WORKDIR; only the port may be moved.
"${B[@]}" run --env "FASTGATE_BIND=0.0.0.0:$PORT" "$ctr" -- fastgate serve >"$WORK/serve.log" 2>&1 &
serve=$!
healthy=no
for _ in $(seq 1 30); do
    if "${B[@]}" run --env "FASTGATE_BIND=0.0.0.0:$PORT" "$ctr" -- fastgate healthcheck; then
        healthy=yes
        break
    fi
    sleep 1
done
kill -TERM "$serve" 2>/dev/null || true
pkill_children() { pkill -TERM -P "$serve" 2>/dev/null || true; }
pkill_children
wait "$serve" || true
echo "--- serve log (head)"
head -5 "$WORK/serve.log"

say "result"
size=$("${B[@]}" images --format '{{.Size}}' "$IMAGE")
echo "image: $IMAGE"
echo "size: $size"
echo "healthy: $healthy"
[ "$healthy" = yes ]
