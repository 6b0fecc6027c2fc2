#!/usr/bin/env bash
# Example: the database and role for an office, then two instances (systemd template units on
# two hosts, or two containers). Run the SQL once as a PostgreSQL superuser.
set -euo pipefail
psql -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE baocao LOGIN PASSWORD 'change-me';
CREATE DATABASE baocao OWNER baocao;
SQL
# Host A and host B, same config, same secrets:
#   systemctl enable --now baocao            (deploy/baocao.service)
# or
#   podman run -d --name baocao-a --env-file /etc/baocao/env -v /etc/baocao:/etc/baocao:ro baocao
#   podman run -d --name baocao-b --env-file /etc/baocao/env -v /etc/baocao:/etc/baocao:ro baocao
# Check who polls: curl -s 127.0.0.1:8080/metrics | grep baocao_mailbox_held
