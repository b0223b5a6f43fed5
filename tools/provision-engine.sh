#!/usr/bin/env bash
# Makes a Docker engine reachable for boxd. If one already answers (DOCKER_HOST or the default socket), it
# does nothing. On Debian/Ubuntu as root it installs Debian's docker.io (plus iptables and debootstrap, which
# the image build uses, and openssl, which makes the egress proxy's CA for attachHeaders) and starts dockerd in
# the background. Elsewhere it says what to install.
set -euo pipefail

say() { printf '[engine] %s\n' "$*" >&2; }

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || curl -fsS --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

need_pkgs=()
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)

if engine_up && [ ${#need_pkgs[@]} -eq 0 ]; then
  say "Docker engine is reachable"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if ! engine_up; then
    say "no Docker engine is reachable and this is not Debian/Ubuntu as root."
    say "install Docker (https://docs.docker.com/engine/install/), start it, or set DOCKER_HOST; then retry."
    exit 1
  fi
  say "missing: ${need_pkgs[*]}: install them (debootstrap: or set BOXD_BASE_IMAGE to a registry image; openssl: attachHeaders need it)"
  exit 0
fi

command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io iptables)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]} from Debian's packages (about 20 s)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! engine_up; then
  say "starting dockerd in the background (log: /var/log/boxd-dockerd.log)"
  setsid dockerd >/var/log/boxd-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    engine_up && break
    sleep 1
  done
  if ! engine_up; then
    say "dockerd did not come up; last lines of its log:"
    tail -20 /var/log/boxd-dockerd.log >&2 || true
    exit 1
  fi
fi
say "Docker engine is up: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo ready)"
