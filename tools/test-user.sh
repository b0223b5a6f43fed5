#!/usr/bin/env bash
# A non-root user for running boxd and its tests as an ordinary account: boxd-tester (home
# /home/boxd-tester, shell bash), in the group of the main engine's socket (docker) and in boxd-engine (the
# socket group of tools/second-engine.sh's engine). Root only.
#
#   bash tools/test-user.sh ensure
#       make the user and its groups (again: a no-op); when the main engine's socket is root's group only
#       (docker.io's group missing), make the group docker and give the socket to it
#   bash tools/test-user.sh run [VAR=value ...] -- command [args ...]
#       run the command as boxd-tester in the repo's root (this script's folder's parent), with a clean
#       environment: HOME, USER, LOGNAME, SHELL, PATH (/usr/local/bin:/usr/bin:/bin), LANG, TERM and CI
#       when set, TMPDIR=/tmp, then each VAR=value given (which may override any of these)
#       e.g. bash tools/test-user.sh run -- npx vitest run test/unit/units.test.ts
#            bash tools/test-user.sh run "$(bash tools/second-engine.sh env)" -- docker ps
#   bash tools/test-user.sh check
#       as boxd-tester: id, both engines' sockets answer (engine 2 when it is up), iptables is refused,
#       the repo is readable and not writable
#
# The repo stays root's: the user only reads it. What it writes goes to its home (npm's cache, vitest's and
# vite's caches when the configs put them there) and to /tmp (the tests' data roots).
set -euo pipefail

USER_NAME=boxd-tester
USER_HOME=/home/$USER_NAME
ENGINE_GROUP=boxd-engine # tools/second-engine.sh's socket group
MAIN_SOCK=/var/run/docker.sock
ENGINE2_SOCK=/run/boxd-engine2/docker.sock
REPO=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '[test-user] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run this as root (it makes a user and runs commands as it)"; }

# The group that may use the main engine's socket: the socket's own group, unless that is root's.
docker_group() {
  local g
  if [ -S "$MAIN_SOCK" ]; then
    g=$(stat -L -c %G "$MAIN_SOCK")
    if [ "$g" = root ] || [ "$g" = UNKNOWN ]; then
      getent group docker >/dev/null || { groupadd --system docker; say "made group docker"; }
      chgrp docker "$MAIN_SOCK" && chmod 660 "$MAIN_SOCK"
      say "gave $MAIN_SOCK to group docker (dockerd gives it to docker itself from its next start, the group now existing)"
      g=docker
    fi
  else
    say "warning: $MAIN_SOCK is not there (no main engine): using group docker"
    getent group docker >/dev/null || { groupadd --system docker; say "made group docker"; }
    g=docker
  fi
  echo "$g"
}

cmd_ensure() {
  need_root
  local dg; dg=$(docker_group)
  getent group "$ENGINE_GROUP" >/dev/null || { groupadd --system "$ENGINE_GROUP"; say "made group $ENGINE_GROUP"; }
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --create-home --home-dir "$USER_HOME" --shell /bin/bash --groups "$dg,$ENGINE_GROUP" "$USER_NAME"
    say "made user $USER_NAME"
  else
    usermod --append --groups "$dg,$ENGINE_GROUP" "$USER_NAME"
    [ -d "$USER_HOME" ] || { mkdir -p "$USER_HOME"; cp -rT /etc/skel "$USER_HOME"; chown -R "$USER_NAME:" "$USER_HOME"; }
  fi
  # the repo must be readable (and its folders enterable) by others: it stays root's
  local d=$REPO
  while [ "$d" != / ]; do
    [ "$(stat -c %A "$d" | cut -c8,10)" = rx ] || say "warning: $d is not readable and enterable by others: $USER_NAME cannot use the repo"
    d=$(dirname "$d")
  done
  say "$(id "$USER_NAME")"
}

cmd_run() {
  need_root
  id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME: run 'bash tools/test-user.sh ensure' first"
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "run: expected VAR=value or --, got '$1'"
    vars+=("$1")
    shift
  done
  [ "${1:-}" = -- ] || die "run: no -- before the command"
  shift
  [ $# -gt 0 ] || die "run: no command after --"
  local base=(
    "HOME=$USER_HOME" "USER=$USER_NAME" "LOGNAME=$USER_NAME" "SHELL=/bin/bash"
    "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=${LANG:-C.UTF-8}" "TMPDIR=/tmp"
  )
  [ -n "${TERM:-}" ] && base+=("TERM=$TERM")
  [ -n "${CI:-}" ] && base+=("CI=$CI")
  cd "$REPO"
  # runuser sets the user's groups from /etc/group (so a group just added counts at once); env -i: nothing of
  # root's environment (its HOME, npm cache, PATH into /root) leaks in
  exec runuser -u "$USER_NAME" -- env -i "${base[@]}" "${vars[@]}" "$@"
}

cmd_check() {
  need_root
  id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME: run 'bash tools/test-user.sh ensure' first"
  local bad=0 out
  as() { (cmd_run -- "$@"); }
  say "id: $(as id)"
  if out=$(as docker -H "unix://$MAIN_SOCK" version --format '{{.Server.Version}}' 2>&1); then
    say "main engine ($MAIN_SOCK): answers, engine $out"
  else
    say "main engine ($MAIN_SOCK): FAILED: $out"; bad=1
  fi
  if [ -S "$ENGINE2_SOCK" ]; then
    if out=$(as docker -H "unix://$ENGINE2_SOCK" version --format '{{.Server.Version}}' 2>&1); then
      say "engine 2 ($ENGINE2_SOCK): answers, engine $out"
    else
      say "engine 2 ($ENGINE2_SOCK): FAILED: $out"; bad=1
    fi
  else
    say "engine 2: not up (bash tools/second-engine.sh up), not checked"
  fi
  # by its full path: /usr/sbin is not on an ordinary user's PATH (nor on the one run gives)
  local ipt; ipt=$(command -v iptables || echo /usr/sbin/iptables)
  if out=$(as "$ipt" -w 5 -S 2>&1); then
    say "iptables: NOT refused (unexpected): $(echo "$out" | head -1)"; bad=1
  else
    say "iptables: refused as expected: $(echo "$out" | head -1)"
  fi
  if as test -r package.json && as test -x node_modules/.bin/vitest; then
    say "repo $REPO: readable"
  else
    say "repo $REPO: NOT readable"; bad=1
  fi
  local hidden; hidden=$(find "$REPO" -path "$REPO/.git" -prune -o \( ! -perm -o+r -o \( -type d ! -perm -o+x \) \) -print 2>/dev/null | head -5)
  [ -z "$hidden" ] || { say "files others cannot read in the repo (first 5): $(echo "$hidden" | paste -sd ' ')"; bad=1; }
  if as test -w "$REPO"; then say "repo $REPO: writable by $USER_NAME (it should stay root's)"; else say "repo $REPO: not writable (as meant)"; fi
  return "$bad"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  run) shift; cmd_run "$@" ;;
  check) cmd_check ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
