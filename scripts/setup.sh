#!/usr/bin/env bash
# Set up everything churnguard needs on a fresh Debian machine, idempotently:
# Debian packages (when root and missing), then .venv from requirements.lock.
# Usage: scripts/setup.sh [--system-only|--venv-only]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the test suite uses: Java runs local Spark, libgomp serves LightGBM,
# PostgreSQL is started by the tests as the operational database, Chromium (with the CJK
# fonts for the Chinese pages) runs the dashboard's browser tests, hey and wrk are the load tools
# of bench/service_speed.py.
DEBS=(openjdk-17-jre-headless libgomp1 postgresql chromium fonts-noto-cjk hey wrk)

system() {
  local missing=()
  for p in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]} (not root: install them yourself; tests that need them will fail)" >&2
    return 0
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv() {
  local py
  py=$(command -v python3.11 || command -v python3)
  "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "setup: churnguard needs Python 3.11" >&2; exit 1; }
  local stamp=.venv/.installed
  local want
  want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" && -x .venv/bin/churnguard ]]; then return 0; fi
  [[ -x .venv/bin/python ]] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check "uv==0.13.9" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/uv pip sync -q --python .venv/bin/python requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps --no-build-isolation -e . 2>/dev/null \
    || .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  # Precompile: with PYTHONDONTWRITEBYTECODE set, every CLI call would otherwise
  # recompile scikit-learn and friends (seconds per command).
  .venv/bin/python -m compileall -q -j 0 .venv/lib/python3.11/site-packages src >/dev/null 2>&1 || true
  echo "$want" >"$stamp"
}

case "${1:-all}" in
  --system-only) system ;;
  --venv-only) venv ;;
  *) system; venv ;;
esac
