#!/usr/bin/env bash
# One command to a running chat on a local cluster:
#   k8s-dev/up.sh                 # kind (default): cluster, ingress-nginx, images, deps, chat
#   CLUSTER=minikube k8s-dev/up.sh
#   TLS=1 k8s-dev/up.sh           # also cert-manager, a self-signed dev CA, https://localhost/
# Then open the printed URL. k8s-dev/down.sh removes everything.
# Needs: kind or minikube, kubectl, docker (or podman: CONTAINER_TOOL=podman). helm is
# fetched by scripts/tools.sh when missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cluster="${CLUSTER:-kind}"
name="${CLUSTER_NAME:-chat}"
namespace="${NAMESPACE:-chat}"
tag="${IMAGE_TAG:-dev}"
tool="${CONTAINER_TOOL:-docker}"
tls="${TLS:-0}"
ingress_nginx_version="${INGRESS_NGINX_VERSION:-controller-v1.12.1}"
export NAMESPACE="$namespace"

say() { echo "up.sh: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "missing '$1' on PATH: $2"; exit 1; }; }

need kubectl "https://kubernetes.io/docs/tasks/tools/"
if command -v helm >/dev/null 2>&1; then
  helm="$(command -v helm)"
else
  helm="$(bash scripts/tools.sh | sed -n 's/^HELM4=//p')"
fi

case "$cluster" in
  kind)
    need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    need "$tool" "install docker or set CONTAINER_TOOL=podman"
    if ! kind get clusters 2>/dev/null | grep -qx "$name"; then
      say "creating kind cluster '$name'"
      kind create cluster --name "$name" --config k8s-dev/kind-config.yaml
    fi
    kubectl config use-context "kind-$name" >/dev/null
    say "installing ingress-nginx ($ingress_nginx_version, kind provider)"
    kubectl apply -f "https://raw.githubusercontent.com/kubernetes/ingress-nginx/${ingress_nginx_version}/deploy/static/provider/kind/deploy.yaml"
    ;;
  minikube)
    need minikube "https://minikube.sigs.k8s.io/docs/start/"
    if ! minikube -p "$name" status >/dev/null 2>&1; then
      say "starting minikube profile '$name'"
      minikube start -p "$name"
    fi
    kubectl config use-context "$name" >/dev/null
    minikube -p "$name" addons enable ingress
    ;;
  *) say "CLUSTER must be kind or minikube, not '$cluster'"; exit 1 ;;
esac

say "waiting for the ingress controller"
kubectl -n ingress-nginx wait --for=condition=Ready pod \
  -l app.kubernetes.io/component=controller --timeout=300s

for svc in api ws-gateway frontend; do
  image="chat-${svc}:${tag}"
  say "building $image"
  "$tool" build -f "$svc/Dockerfile" -t "$image" .
  if [[ "$cluster" == kind ]]; then
    if [[ "$tool" == docker ]]; then
      kind load docker-image --name "$name" "$image"
    else
      archive="$(mktemp)"
      "$tool" save -o "$archive" "localhost/$image"
      kind load image-archive --name "$name" "$archive"
      rm -f "$archive"
    fi
  else
    minikube -p "$name" image load "$image"
  fi
done

bash k8s-dev/dev-secrets.sh

deps_args=()
chat_args=(-f k8s-dev/values-dev.yaml)
scheme=http
if [[ "$tls" == 1 ]]; then
  bash k8s-dev/cert-manager.sh
  deps_args+=(--set tls.selfSignedIssuer=true)
  chat_args+=(-f k8s-dev/values-dev-tls.yaml)
  scheme=https
fi

say "installing dev PostgreSQL + Redis"
# ${a[@]+"${a[@]}"}: an empty array under `set -u` on bash < 4.4 (macOS) is "unbound".
"$helm" upgrade --install chat-deps k8s-dev/deps -n "$namespace" ${deps_args[@]+"${deps_args[@]}"} \
  --wait --timeout 5m

say "installing the chat chart"
"$helm" upgrade --install chat charts/chat -n "$namespace" "${chat_args[@]}" \
  --set api.image.tag="$tag" --set gateway.image.tag="$tag" --set frontend.image.tag="$tag" \
  --wait --timeout 10m

if [[ "$cluster" == kind ]]; then
  url="$scheme://localhost/"
else
  url="$scheme://$(minikube -p "$name" ip)/"
fi
if [[ "$tls" == 1 ]]; then
  say "the certificate is signed by a development CA; to trust it in a browser:"
  say "  kubectl -n $namespace get secret chat-dev-ca -o jsonpath='{.data.ca\\.crt}' | base64 -d > chat-dev-ca.crt"
  [[ "$cluster" == kind ]] || say "values-dev-tls.yaml names host localhost: use minikube tunnel, or --set ingress.host=<name>"
fi
say "ready: $url   (helm test chat -n $namespace runs the in-cluster checks)"
echo "$url"
