#!/usr/bin/env bash
# Creates the development Secrets the charts reference, once, with random values:
#   chat-dev-postgres  POSTGRES_PASSWORD               (k8s-dev/deps)
#   chat-dev-secrets   JWT_SECRET DATABASE_URL REDIS_URL (charts/chat secrets.existingSecret)
# Existing Secrets are kept so the database password keeps matching its data.
set -euo pipefail

namespace="${NAMESPACE:-chat}"
kubectl="${KUBECTL:-kubectl}"

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

"$kubectl" get namespace "$namespace" >/dev/null 2>&1 || "$kubectl" create namespace "$namespace"

if ! "$kubectl" -n "$namespace" get secret chat-dev-postgres >/dev/null 2>&1; then
  pg_password="$(rand_hex 16)"
  "$kubectl" -n "$namespace" create secret generic chat-dev-postgres \
    --from-literal=POSTGRES_PASSWORD="$pg_password"
else
  pg_password="$("$kubectl" -n "$namespace" get secret chat-dev-postgres \
    -o jsonpath='{.data.POSTGRES_PASSWORD}' | base64 -d)"
fi

if ! "$kubectl" -n "$namespace" get secret chat-dev-secrets >/dev/null 2>&1; then
  "$kubectl" -n "$namespace" create secret generic chat-dev-secrets \
    --from-literal=JWT_SECRET="$(rand_hex 32)" \
    --from-literal=DATABASE_URL="postgresql+psycopg://chat:${pg_password}@postgres:5432/chat" \
    --from-literal=REDIS_URL="redis://redis:6379/0"
fi
