#!/usr/bin/env bash
# Removes what up.sh made. KEEP_CLUSTER=1 only uninstalls the releases and Secrets.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${CLUSTER:-kind}"
name="${CLUSTER_NAME:-chat}"
namespace="${NAMESPACE:-chat}"

if [[ "${KEEP_CLUSTER:-0}" == 1 ]]; then
  if command -v helm >/dev/null 2>&1; then
    helm="$(command -v helm)"
  else
    helm="$(bash scripts/tools.sh | sed -n 's/^HELM4=//p')"
  fi
  "$helm" uninstall chat -n "$namespace" --ignore-not-found
  "$helm" uninstall chat-deps -n "$namespace" --ignore-not-found
  kubectl -n "$namespace" delete secret chat-dev-secrets chat-dev-postgres --ignore-not-found
  exit 0
fi

case "$cluster" in
  kind) kind delete cluster --name "$name" ;;
  minikube) minikube delete -p "$name" ;;
  *) echo "down.sh: CLUSTER must be kind or minikube" >&2; exit 1 ;;
esac
