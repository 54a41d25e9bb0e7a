#!/usr/bin/env bash
# Installs what `make run` / `make test` need on a fresh machine, then syncs the venv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_apt=()
command -v redis-server >/dev/null 2>&1 || want_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || want_apt+=(postgresql)
if [[ "${BOOTSTRAP_MINIMAL:-0}" != 1 ]]; then
  command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || want_apt+=(nginx)
  [[ -x /usr/bin/chromium ]] || want_apt+=(chromium)
  command -v promtool >/dev/null 2>&1 || want_apt+=(prometheus)
  command -v shellcheck >/dev/null 2>&1 || want_apt+=(shellcheck)
  command -v npm >/dev/null 2>&1 || want_apt+=(npm)
  # tests/images: rootful podman with runc (crun fails here) and a debootstrap-made base.
  command -v podman >/dev/null 2>&1 || want_apt+=(podman)
  command -v runc >/dev/null 2>&1 || want_apt+=(runc)
  command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || want_apt+=(debootstrap)
fi

if ((${#want_apt[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${want_apt[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
    # Debian starts nginx/postgres/redis services on install; the tests run their own.
  else
    echo "bootstrap: missing system packages: ${want_apt[*]}" >&2
    echo "bootstrap: install them (Debian/Ubuntu: sudo apt-get install -y ${want_apt[*]}) and re-run" >&2
    exit 1
  fi
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv with pip" >&2
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi

uv sync --frozen --all-packages --quiet
