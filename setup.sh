#!/usr/bin/env bash
# One command to set up applc on a fresh Debian 12 machine: the system packages
# it uses (QEMU to boot images; gcc only as the benchmarks' C baseline), then
# the Python package with its test extras, editable.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v gcc >/dev/null; then
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 gcc
fi
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -e '.[test]'
