#!/usr/bin/env bash
# Installs cert-manager (its official release manifest) into the current cluster and waits
# until its webhook answers, so Issuers and Certificates can be created right after.
# Used by k8s-dev/up.sh (TLS=1) and skaffold's "tls" profile. Idempotent.
set -euo pipefail

version="${CERT_MANAGER_VERSION:-v1.16.2}"
kubectl="${KUBECTL:-kubectl}"

if "$kubectl" get crd certificates.cert-manager.io >/dev/null 2>&1 &&
  "$kubectl" -n cert-manager get deployment cert-manager-webhook >/dev/null 2>&1; then
  echo "cert-manager.sh: cert-manager already installed" >&2
else
  echo "cert-manager.sh: installing cert-manager $version" >&2
  "$kubectl" apply -f "https://github.com/cert-manager/cert-manager/releases/download/${version}/cert-manager.yaml"
fi
"$kubectl" -n cert-manager wait --for=condition=Available deployment --all --timeout=300s
# "Available" can come before the webhook's CA bundle is injected; a server-side dry run of
# an Issuer only passes once the webhook really admits cert-manager objects.
for _ in $(seq 1 60); do
  if "$kubectl" apply --dry-run=server -f - >/dev/null 2>&1 <<'YAML'
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: cert-manager-sh-probe, namespace: default}
spec: {selfSigned: {}}
YAML
  then
    echo "cert-manager.sh: webhook ready" >&2
    exit 0
  fi
  sleep 2
done
echo "cert-manager.sh: the cert-manager webhook did not become ready" >&2
exit 1
