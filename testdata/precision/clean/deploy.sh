#!/bin/sh
# Deploy: secrets are read at run time, never written here.
set -eu
DB_PASSWORD=$(cat /run/secrets/db_password)
API_TOKEN="$(vault kv get -field=token secret/app)"
export GITHUB_TOKEN="${GITHUB_TOKEN:?set GITHUB_TOKEN}"
export NPM_TOKEN=$NPM_TOKEN
REGISTRY_PASSWORD="${REGISTRY_PASSWORD:-}"
curl -H "Authorization: Bearer $API_TOKEN" https://api.internal/deploy
docker login -u ci --password-stdin <<< "$REGISTRY_PASSWORD"
