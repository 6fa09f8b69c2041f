#!/usr/bin/env bash
# Installs the Debian packages the tests and the local stack start (only those missing).
# Installing starts nothing: the project starts each server itself, on loopback.
set -euo pipefail
declare -A binary_of=(
  [prometheus]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [kubectl]=kubectl
)
missing=()
for package in "${!binary_of[@]}"; do
  command -v "${binary_of[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or install them); tests that need them will skip" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
