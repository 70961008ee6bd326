#!/bin/sh
# Reads the secrets compose mounts under /run/secrets into the settings the hub takes,
# then runs `hub <command>`. Nothing secret is written to disk or to the image.
set -eu
if [ -n "${HUB_MASTER_KEY_SECRET:-}" ]; then
  HUB_MASTER_KEY="$(cat "$HUB_MASTER_KEY_SECRET")"
  export HUB_MASTER_KEY
fi
if [ -n "${HUB_DATABASE_PASSWORD_SECRET:-}" ]; then
  password="$(cat "$HUB_DATABASE_PASSWORD_SECRET")"
  HUB_DATABASE_URL="postgresql+asyncpg://${HUB_DATABASE_USER}:${password}@${HUB_DATABASE_HOST}:5432/${HUB_DATABASE_NAME}"
  export HUB_DATABASE_URL
fi
exec hub "$@"
