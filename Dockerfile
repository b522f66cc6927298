# syntax=docker/dockerfile:1
# fastgate: one static-ish Rust binary on a small Debian base.
#   docker build -t fastgate .
#   docker run -p 3000:3000 -e FASTIO_API_KEY=... fastgate

ARG RUST_VERSION=1.95

# ---- build: dependencies first (cached while only our sources change), then the app ----
FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Offline builds (scripts/container-build.sh) drop a cargo config and vendored crates here;
# a normal build finds only a README and fetches from crates.io.
COPY deploy/cargo/ ./.cargo/
RUN mkdir -p src/bin \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin fastgate \
    && rm -rf src
COPY src ./src
COPY templates ./templates
COPY static ./static
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin fastgate \
    && strip target/release/fastgate

# ---- run: debian-slim with CA certificates (reqwest needs them), a non-root user ----
FROM docker.io/library/debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin fastgate \
    && mkdir -p /data \
    && chown fastgate:fastgate /data
COPY --from=builder /src/target/release/fastgate /usr/local/bin/fastgate
ENV FASTGATE_BIND=0.0.0.0:3000 \
    FASTGATE_PUBLIC_URL=http://localhost:3000 \
    FASTGATE_DATA_DIR=/data \
    FASTGATE_LOG_FORMAT=json \
    FASTGATE_SHUTDOWN_GRACE=30s
USER 10001:10001
WORKDIR /data
EXPOSE 3000
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["fastgate", "healthcheck"]
ENTRYPOINT ["fastgate"]
CMD ["serve"]
