#!/usr/bin/env bash
# Makes a Docker engine reachable for boxd. If one already answers (DOCKER_HOST or the default socket), it
# does nothing. On Debian/Ubuntu as root it installs Debian's docker.io (plus iptables and debootstrap, which
# the image build uses, and openssl, which makes the egress proxy's CA for attachHeaders) and starts dockerd in
# the background. Elsewhere it says what to install.
set -euo pipefail

say() { printf '[engine] %s\n' "$*" >&2; }

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || curl -fsS --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

gvisor_registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

# Adds runsc to /etc/docker/daemon.json's runtimes, keeping everything else the operator put there. gVisor's
# own network stack cannot start inside Docker's network namespace, so runsc runs with --network=host:
# gVisor's hostinet in the container's own namespace, where the per-box firewall rules still apply.
register_runsc() {
  node - "$(command -v runsc)" <<'JS'
const fs = require("node:fs");
const file = "/etc/docker/daemon.json";
let config = {};
try {
  config = JSON.parse(fs.readFileSync(file, "utf8"));
} catch (err) {
  if (err.code !== "ENOENT") {
    console.error(`[engine] ${file} is not valid JSON (${err.message}): fix it, then run this again`);
    process.exit(1);
  }
}
config.runtimes = config.runtimes ?? {};
if (!config.runtimes.runsc) {
  config.runtimes.runsc = { path: process.argv[2], runtimeArgs: ["--network=host"] };
  fs.mkdirSync("/etc/docker", { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}
JS
}

# gVisor for `isolation: "gvisor"` boxes (BOXD_GVISOR=0 skips it): Debian's runsc, registered with the engine.
ensure_gvisor() {
  [ "${BOXD_GVISOR:-1}" = 0 ] && return 0
  gvisor_registered && { say "gVisor (runsc) is registered with the engine"; return 0; }
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "gVisor (runsc) is not registered with the engine: gVisor boxes are unavailable (boxd doctor says how to enable them)"
    return 0
  fi
  if ! command -v runsc >/dev/null 2>&1; then
    say "installing runsc (gVisor) from Debian's packages"
    apt-get update -qq
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null; then
      say "runsc could not be installed: gVisor boxes are unavailable"
      return 0
    fi
  fi
  register_runsc
  if ! pidof dockerd >/dev/null 2>&1; then
    say "registered runsc in /etc/docker/daemon.json; restart the engine to load it"
    return 0
  fi
  kill -HUP "$(pidof dockerd)" # dockerd reloads its runtimes without touching running containers
  for _ in $(seq 1 20); do
    gvisor_registered && { say "gVisor (runsc) registered with the engine"; return 0; }
    sleep 0.5
  done
  say "dockerd did not pick up runsc from /etc/docker/daemon.json; gVisor boxes are unavailable until it does"
}

need_pkgs=()
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)

if engine_up && [ ${#need_pkgs[@]} -eq 0 ]; then
  say "Docker engine is reachable"
  ensure_gvisor
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
ensure_gvisor
