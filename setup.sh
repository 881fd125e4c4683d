#!/usr/bin/env bash
# One command to set up applc on a fresh Debian 12 machine: the system packages
# it uses (QEMU to boot images; gcc and GNU time only for the benchmarks; iproute2,
# ping and dnsmasq as the real network peers of the appliance tests), then the
# Python package with its test extras, editable.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES="qemu-system-x86 gcc time iproute2 iputils-ping dnsmasq-base"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -e '.[test]'
