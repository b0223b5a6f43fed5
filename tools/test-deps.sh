#!/usr/bin/env bash
# What `npm test` needs beyond the engine and the box images: the real clients the tests drive
# (OpenSSH for the SSH gateway; openssl for the secrets tests' own CA). Debian packages only; a package
# already present is not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(openssh-client openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[test-deps] installing ${missing[*]} from Debian's packages"
  if [ "$(id -u)" -ne 0 ]; then
    echo "[test-deps] need root to install ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}'" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "[test-deps] ready: ${packages[*]}"
