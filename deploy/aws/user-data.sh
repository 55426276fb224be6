#!/bin/bash
# cloud-init user data for the Stock Bazaar VM (Debian 12), rendered by deploy/aws/create.sh,
# which replaces the @...@ placeholders. It installs Docker and docker-compose from Debian,
# a systemd unit that runs the compose stack (and brings it back after a reboot), then gets
# the source: cloned from @REPO_URL@ when set, else pushed over SSH by create.sh, which then
# starts the unit. Progress: /var/log/cloud-init-output.log on the VM.
# The NATS credentials are made on the VM, by the unit before each start
# (scripts/gen-nats-secrets keeps existing ones), in /opt/stock-bazaar/secrets (root, 0700):
# they never leave it and are in no image and no repository.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update
apt-get install -y --no-install-recommends docker.io docker-compose git curl ca-certificates
systemctl enable --now docker
usermod -aG docker admin || true

install -d -o admin -g admin /opt/stock-bazaar
cat >/etc/systemd/system/stock-bazaar.service <<'UNIT'
[Unit]
Description=Stock Bazaar (docker compose stack in /opt/stock-bazaar)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
ConditionPathExists=/opt/stock-bazaar/docker-compose.yml

[Service]
Type=oneshot
RemainAfterExit=yes
WorkingDirectory=/opt/stock-bazaar
# The first start builds the images from the Dockerfile (about 10 minutes on 4 vCPUs).
TimeoutStartSec=45min
# Credentials for the bus: made once, kept across restarts (rotate: docs/SECURITY.md).
ExecStartPre=/bin/bash /opt/stock-bazaar/scripts/gen-nats-secrets --container-readable /opt/stock-bazaar/secrets
ExecStart=/usr/bin/docker-compose up -d --build --remove-orphans
ExecStop=/usr/bin/docker-compose stop

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable stock-bazaar.service

# Compose settings for this VM (read by docker-compose from .env beside the compose file).
cat >/opt/stock-bazaar/.env <<'ENV'
COMPOSE_PROJECT_NAME=stock-bazaar
COMPOSE_FILE=@COMPOSE_FILE@
BAZAAR_HTTP_PORT=8080
ENV

repo_url='@REPO_URL@'
if [ -n "$repo_url" ]; then
  git clone --depth 1 --branch '@REPO_REF@' "$repo_url" /tmp/stock-bazaar-src
  cp -a /tmp/stock-bazaar-src/. /opt/stock-bazaar/
  rm -rf /tmp/stock-bazaar-src
  chown -R admin:admin /opt/stock-bazaar
  systemctl start --no-block stock-bazaar.service
fi
