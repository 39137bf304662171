#!/usr/bin/env bash
# Installs the Debian 12 packages StateFlow needs to build, test and fuzz;
# with --bench also what bench/compare needs (a PostgreSQL server to compare
# with, gnuplot for the plots). Idempotent; run as root (or with sudo).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git
  python3 libpython3-dev            # Debian's CPython 3.11: parser for sfc, executor for the runtime
  libuv1-dev libmsgpack-dev librdkafka-dev libcmocka-dev
  clang libclang-rt-dev             # libFuzzer targets
  valgrind kcat
  python3-venv python3-pip python3-wheel python3-setuptools  # tests/install_test.sh: pip install of python/ in a venv
  libpq-dev                         # bench/ycsbt's PostgreSQL driver (built with everything)
)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(postgresql gnuplot-nox)    # bench/compare: the PostgreSQL baseline, plots
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
