#!/usr/bin/env bash
# Installs what `make test` needs on a fresh machine, then syncs the venv; ends with one line
# saying what it installed (quiet when everything was already there).
#
# BOOTSTRAP_MINIMAL=1 (`make run`): only uv and the three services' packages. make run starts
# no PostgreSQL or Redis of its own (SQLite and no broker, or the servers that
# DATABASE_URL/REDIS_URL name), so it needs no system package beyond Python's venv; with
# TLS=1 (`TLS=1 make run`) it also needs nginx and openssl, and chat-testkit's nginx
# launcher (scripts/run_local_tls.py).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9 # the Dockerfiles' UV_VERSION
UV_VENV=.tools/uv # ignored folder; the Makefile finds uv here when it is not on PATH
minimal=${BOOTSTRAP_MINIMAL:-0}
installed=()

want_apt=()
want() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]] || want_apt+=("$2"); }
if [[ $minimal != 1 ]]; then
  want redis-server redis-server
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want initdb postgresql
  [[ -x /usr/bin/chromium ]] || want_apt+=(chromium)
  want promtool prometheus
  want shellcheck shellcheck
  want npm npm
  # tests/images: rootful podman with runc (crun fails here) and a debootstrap-made base.
  want podman podman
  want runc runc
  want debootstrap debootstrap
  # Browser tests over TLS: certutil puts the test CA into Chromium's NSS database.
  want certutil libnss3-tools
fi
if [[ $minimal != 1 || ${TLS:-0} == 1 ]]; then
  want nginx nginx
  want openssl openssl
fi

if [[ -x $UV_VENV/bin/uv ]]; then export PATH="$PWD/$UV_VENV/bin:$PATH"; fi
need_uv=0
if ! command -v uv >/dev/null 2>&1; then
  need_uv=1
  # uv goes into a venv of its own: Debian 12 and Ubuntu 23.04+ refuse `pip install` into
  # the system Python (PEP 668, "externally managed"), with --user too. Debian and Ubuntu
  # ship venv's pip seed (ensurepip) separately, in python3-venv.
  python3 -c 'import ensurepip' 2>/dev/null || want_apt+=(python3-venv)
fi

if ((${#want_apt[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${want_apt[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
    # Debian starts nginx/postgres/redis services on install; the tests run their own.
    installed+=("apt: ${want_apt[*]}")
  else
    echo "bootstrap: missing system packages: ${want_apt[*]}" >&2
    echo "bootstrap: install them (Debian/Ubuntu: sudo apt-get install -y ${want_apt[*]}) and re-run" >&2
    if ((need_uv)); then
      echo "bootstrap: or put uv $UV_VERSION on PATH yourself (https://docs.astral.sh/uv/); it is used as found" >&2
    fi
    exit 1
  fi
fi

if ((need_uv)); then
  echo "bootstrap: installing uv $UV_VERSION into $UV_VENV" >&2
  rm -rf "$UV_VENV" # a venv left half-made by an interrupted run
  python3 -m venv "$UV_VENV"
  "$UV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  export PATH="$PWD/$UV_VENV/bin:$PATH"
  installed+=("uv $UV_VERSION ($UV_VENV/bin/uv)")
fi

if [[ $minimal == 1 ]]; then
  # Only what make run runs: no dev group (playwright, mypy, schemathesis, ...). --inexact
  # keeps what a full bootstrap added, so make run after make test removes nothing.
  sync=(--no-dev --inexact --package chat-api --package chat-ws-gateway --package chat-frontend)
  # TLS=1 runs the test kit's nginx launcher (scripts/run_local_tls.py), and with it pytest;
  # a plain make run stays free of test packages (tests/images checks that).
  if [[ ${TLS:-0} == 1 ]]; then sync+=(--package chat-testkit); fi
else
  sync=(--all-packages)
fi
if ! out=$(uv sync --frozen "${sync[@]}" 2>&1); then
  echo "$out" >&2
  exit 1
fi
if [[ $out =~ Installed\ ([0-9]+)\ package ]]; then
  installed+=("venv: ${BASH_REMATCH[1]} packages")
fi

if ((${#installed[@]})); then
  summary=$(printf '%s; ' "${installed[@]}")
  echo "bootstrap: installed ${summary%; }" >&2
fi
