#!/usr/bin/env bash
# A second Docker engine on this machine, standing in for "another machine's engine": its own network
# namespace (boxd-engine2: its own docker0, its own iptables tables, unreachable from the host's network),
# its own containerd, data root, exec root, pidfiles and unix socket, and its containers' cgroups under their
# own parent (/boxd-engine2). Root only.
#
#   bash tools/second-engine.sh up [--images "ref1 ref2" | --no-images]
#       start it (or keep it if it answers) and load images from the main engine: by default every image
#       tagged boxd/base:*, boxd/node:*, boxd/python:*, boxd/netd:* there; an image whose id engine 2
#       already has is skipped (tagged, when only the tag was missing)
#   bash tools/second-engine.sh down [--keep-data]
#       stop it and remove everything it made (its logs stay in /var/log/boxd-engine2); --keep-data keeps its
#       data root (images, containers), so that the next up need not load the images again
#   bash tools/second-engine.sh status   say whether it is up (exit 0) or not (exit 1)
#   bash tools/second-engine.sh env      print DOCKER_HOST=unix:///run/boxd-engine2/docker.sock
#
# Use it:  DOCKER_HOST=unix:///run/boxd-engine2/docker.sock docker ps   (or: export "$(bash tools/second-engine.sh env)")
# Members of the group boxd-engine (made here) may use the socket, as members of docker use the main one.
set -euo pipefail

NAME=boxd-engine2
NETNS=$NAME
GROUP=boxd-engine
RUN=/run/$NAME                      # everything at run time: sockets, pidfiles, exec root, containerd state
DATA=/var/lib/$NAME                 # dockerd's data root; containerd's root is a folder inside it
LOGS=/var/log/$NAME
SOCK=$RUN/docker.sock
EXEC_ROOT=$RUN/exec
CTRD_DIR=$RUN/containerd
CTRD_SOCK=$CTRD_DIR/containerd.sock
CTRD_ROOT=$DATA/containerd-root
CTRD_PID=$RUN/containerd.pid
DOCKERD_PID=$RUN/dockerd.pid
CGROUP_PARENT=/$NAME
DEFAULT_IMAGES=(boxd/base boxd/node boxd/python boxd/netd)
MAIN_HOST=${BOXD_MAIN_DOCKER_HOST:-unix:///var/run/docker.sock}

say() { printf '[engine2] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
d2() { docker -H "unix://$SOCK" "$@"; }
d1() { docker -H "$MAIN_HOST" "$@"; }

need_root() { [ "$(id -u)" = 0 ] || die "run this as root (it makes a network namespace and starts dockerd)"; }

# A zombie is not alive: here pid 1 reaps orphans only now and then.
alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
pid_of() { [ -s "$1" ] && cat "$1" 2>/dev/null || true; }

answers() { [ -S "$SOCK" ] && curl -fsS --max-time 3 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }

netns_inode() { stat -L -c %i "/run/netns/$NETNS" 2>/dev/null || true; }

# Every process that lives in engine 2's network namespace (dockerd, containerd, shims, docker-proxy,
# containers started with --network host), found by the namespace's inode: pids, one per line.
pids_in_netns() {
  local ino; ino=$(netns_inode)
  [ -n "$ino" ] || return 0
  local p
  for p in /proc/[0-9]*; do
    [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null || true)" = "$ino" ] && echo "${p#/proc/}"
  done
  return 0
}

# Every process in a cgroup under engine 2's cgroup parent (its containers), in any v1 hierarchy or v2.
cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/*"$CGROUP_PARENT" /sys/fs/cgroup"$CGROUP_PARENT"; do
    [ -d "$d" ] && echo "$d"
  done
  return 0
}
pids_in_cgroups() {
  local d
  for d in $(cgroup_dirs); do
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done | sort -u
}

# Engine 2's own processes that are not in its containers' cgroups: the daemons, containerd-shim-runc-v2
# (-address /run/boxd-engine2/...), runsc/runc (--root /run/boxd-engine2/...), docker-proxy (in its netns).
# Only engine binaries count: a client whose arguments name the socket (docker -H ..., a test runner) is not
# engine 2's to stop.
ENGINE_BINS='^(containerd|containerd-shim|containerd-shim-runc-v2|containerd-shim-runc-v1|dockerd|docker-proxy|runc|runsc)$'
is_engine_bin() { basename "$(readlink "/proc/$1/exe" 2>/dev/null | sed 's/ (deleted)$//')" | grep -qE "$ENGINE_BINS"; }
engine_leftovers() {
  local p ino; ino=$(netns_inode)
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    is_engine_bin "$p" || continue
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE "($RUN|$DATA)(/| |$)"; then
      echo "$p"
    elif [ -n "$ino" ] && [ "$(stat -L -c %i "/proc/$p/ns/net" 2>/dev/null || true)" = "$ino" ]; then
      echo "$p"
    fi
  done
  return 0
}

# Shim sockets: containerd 1.6 puts them in /run/containerd/s whatever its state dir, named
# sha256(<containerd address>/<namespace>/<id>); a shim that was killed leaves its socket there.
shim_sockets() {
  local t id
  for t in "$CTRD_DIR"/state/io.containerd.runtime.v*.task/*/*; do
    [ -d "$t" ] || continue
    id=$(basename "$t")
    printf '%s' "$CTRD_SOCK/$(basename "$(dirname "$t")")/$id" | sha256sum | cut -c1-64 | sed 's|^|/run/containerd/s/|'
  done
  return 0
}

stop_pid() { # pid, what, seconds to wait after TERM
  local pid=$1 what=$2 wait=$3 i
  alive "$pid" || return 0
  local t; t=$(now)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait * 10; i++)); do
    alive "$pid" || { say "$what ($pid) stopped in $(since "$t") s"; return 0; }
    sleep 0.1
  done
  say "$what ($pid) did not stop in ${wait}s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
  say "warning: $what ($pid) is still there"
}

# Stops engine 2's processes and takes down its namespace and mounts, keeping its data root. With "kill",
# its running containers are killed first rather than stopped (dockerd would give each 10 s after SIGTERM).
teardown_runtime() {
  if [ "${1:-}" = kill ] && answers; then
    local running; running=$(d2 ps -q 2>/dev/null || true)
    if [ -n "$running" ]; then
      say "killing $(echo "$running" | wc -l) running container(s)"
      # shellcheck disable=SC2086
      d2 kill $running >/dev/null 2>&1 || true
    fi
  fi
  # dockerd next, with time to stop what is left (its own shutdown timeout is 15 s)
  stop_pid "$(pid_of "$DOCKERD_PID")" dockerd 40
  # anything its containers left: processes in its cgroups, then shims and others by their command line
  local left
  left=$(pids_in_cgroups)
  if [ -n "$left" ]; then
    say "killing $(echo "$left" | wc -l) process(es) left in its containers' cgroups"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
  stop_pid "$(pid_of "$CTRD_PID")" containerd 15
  local p
  for p in $(engine_leftovers); do
    alive "$p" || continue
    say "stopping leftover $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-110) ($p)"
    stop_pid "$p" "leftover" 5
  done
  for p in $(pids_in_netns); do
    alive "$p" && say "warning: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80) ($p) is still in netns $NETNS (not engine 2's: left alone)"
  done
  local n=0
  for p in $(shim_sockets); do
    [ -S "$p" ] && rm -f "$p" && n=$((n + 1))
  done
  [ "$n" -gt 0 ] && say "removed $n shim socket(s) left in /run/containerd/s"
  # mounts under its folders (overlay2 merged dirs, container shm, netns bind mounts), deepest first
  local m n=0
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
    n=$((n + 1))
  done < <(awk '{ print $5 }' /proc/self/mountinfo | grep -E "^($RUN|$DATA)(/|$)" | sort -r | sed 's/\\040/ /g')
  [ "$n" -gt 0 ] && say "unmounted $n mount(s) under $RUN and $DATA"
  if [ -e "/run/netns/$NETNS" ]; then
    ip netns delete "$NETNS" && say "deleted network namespace $NETNS"
  fi
  # its containers' cgroup folders (empty now), leaves first
  local d
  for d in $(cgroup_dirs); do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || say "warning: could not remove cgroup $d"
  done
  rm -f "$DOCKERD_PID" "$CTRD_PID" "$SOCK"
}

containerd_config() {
  cat <<EOF
# engine 2's own containerd (written by tools/second-engine.sh)
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
oom_score = 0

[grpc]
  address = "$CTRD_SOCK"
  uid = 0
  gid = 0

[ttrpc]
  address = "$CTRD_SOCK.ttrpc"

[debug]
  address = ""
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTRD_ROOT/opt"
EOF
}

daemon_config() {
  # Only what has no command-line flag. deprecated-key-path: its own key, so its own engine ID (by default
  # both engines read /etc/docker/key.json and report the same ID). runsc: registered as on the main engine.
  local runsc; runsc=$(command -v runsc || true)
  printf '{\n  "deprecated-key-path": "%s"' "$DATA/key.json"
  [ -n "$runsc" ] && printf ',\n  "runtimes": { "runsc": { "path": "%s", "runtimeArgs": ["--network=host"] } }' "$runsc"
  printf '\n}\n'
}

start_engine() {
  for c in dockerd containerd ctr ip nsenter curl docker; do
    command -v "$c" >/dev/null 2>&1 || die "$c is not installed (bash tools/provision-engine.sh installs the engine)"
  done
  getent group "$GROUP" >/dev/null || { groupadd --system "$GROUP"; say "made group $GROUP (may use $SOCK)"; }
  mkdir -p "$RUN" "$EXEC_ROOT" "$CTRD_DIR" "$DATA" "$CTRD_ROOT" "$LOGS"
  chmod 711 "$RUN"
  ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  say "network namespace $NETNS: $(ip -n "$NETNS" -br addr | tr -s ' ' | paste -sd ';')"

  containerd_config >"$RUN/containerd.toml"
  # nsenter --net, not `ip netns exec`: the latter also unshares the mount namespace and remounts /sys,
  # which drops the cgroup v1 mounts under /sys/fs/cgroup (dockerd then cannot find its cgroups), and
  # hides engine 2's overlay mounts from the host (so `down` could not clean them).
  nsenter --net="/run/netns/$NETNS" setsid containerd --config "$RUN/containerd.toml" \
    >"$LOGS/containerd.log" 2>&1 </dev/null &
  echo $! >"$CTRD_PID"
  local i
  for ((i = 0; i < 100; i++)); do
    ctr --address "$CTRD_SOCK" version >/dev/null 2>&1 && break
    alive "$(pid_of "$CTRD_PID")" || { tail -20 "$LOGS/containerd.log" >&2; die "containerd exited"; }
    sleep 0.1
  done
  ctr --address "$CTRD_SOCK" version >/dev/null 2>&1 || { tail -20 "$LOGS/containerd.log" >&2; die "containerd did not answer"; }
  say "containerd up (pid $(pid_of "$CTRD_PID"), $CTRD_SOCK)"

  daemon_config >"$RUN/daemon.json"
  # --config-file: not /etc/docker/daemon.json, which is the main engine's.
  # --cgroup-parent: its containers' cgroups apart from the main engine's /docker/<id>.
  nsenter --net="/run/netns/$NETNS" setsid dockerd \
    --config-file "$RUN/daemon.json" \
    --data-root "$DATA" \
    --exec-root "$EXEC_ROOT" \
    --pidfile "$DOCKERD_PID" \
    -H "unix://$SOCK" \
    --group "$GROUP" \
    --containerd "$CTRD_SOCK" \
    --storage-driver overlay2 \
    --iptables=true \
    --cgroup-parent "$CGROUP_PARENT" \
    >"$LOGS/dockerd.log" 2>&1 </dev/null &
  local launched=$!
  for ((i = 0; i < 600; i++)); do
    answers && break
    alive "$launched" || { tail -30 "$LOGS/dockerd.log" >&2; die "dockerd exited (log: $LOGS/dockerd.log)"; }
    sleep 0.1
  done
  answers || { tail -30 "$LOGS/dockerd.log" >&2; die "dockerd did not answer in 60 s (log: $LOGS/dockerd.log)"; }
  say "dockerd up (pid $(pid_of "$DOCKERD_PID"), $SOCK, group $GROUP): $(d2 version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
}

image_id() { "$1" image inspect --format '{{.Id}}' "$2" 2>/dev/null || true; } # d1|d2, ref

# The refs to load: those given, or every tag of DEFAULT_IMAGES' repositories on the main engine.
default_refs() {
  local repo
  for repo in "${DEFAULT_IMAGES[@]}"; do
    d1 images --format '{{.Repository}}:{{.Tag}}' "$repo" 2>/dev/null | grep -v '<none>' || true
  done
}

# Loads the refs that engine 2 lacks in one `docker save | docker load` stream: layers the images share
# (boxd/base's, under every runtime image) cross once, which took 63 s for base+node+python+netd where one
# stream per image took 106 s. docker load says each image as it registers it, after unpacking the stream.
load_images() {
  local refs=("$@")
  [ ${#refs[@]} -gt 0 ] || { say "no images to load"; return 0; }
  local t0 ref id have skipped=0 todo=() ids=() total=0 bytes
  t0=$(now)
  for ref in "${refs[@]}"; do
    id=$(image_id d1 "$ref")
    [ -n "$id" ] || { say "  $ref: not on the main engine, skipped"; continue; }
    have=$(image_id d2 "$ref")
    if [ "$have" = "$id" ]; then
      say "  $ref: already there (${id:7:12})"
      skipped=$((skipped + 1))
    elif [ -n "$(image_id d2 "$id")" ]; then
      d2 tag "$id" "$ref"
      say "  $ref: tagged (image ${id:7:12} already there)"
      skipped=$((skipped + 1))
    else
      bytes=$(d1 image inspect --format '{{.Size}}' "$ref")
      total=$((total + bytes))
      say "  $ref: to load (${id:7:12}, $(numfmt --to=iec "$bytes"))"
      todo+=("$ref"); ids+=("$id")
    fi
  done
  if [ ${#todo[@]} -gt 0 ]; then
    say "  saving ${#todo[@]} image(s) from the main engine into engine 2 (at most $(numfmt --to=iec "$total"); shared layers once) ..."
    local t line; t=$(now)
    d1 save "${todo[@]}" | d2 load | while IFS= read -r line; do say "  $(since "$t") s: $line"; done
    local i
    for i in "${!todo[@]}"; do
      [ "$(image_id d2 "${todo[$i]}")" = "${ids[$i]}" ] || die "${todo[$i]} did not load as ${ids[$i]:7:12}"
    done
  fi
  say "images: ${#todo[@]} loaded, $skipped already there, in $(since "$t0") s"
}

cmd_up() {
  need_root
  local images=() mode=default
  while [ $# -gt 0 ]; do
    case $1 in
      --images) [ $# -ge 2 ] || die "--images needs a list"; mode=given; read -r -a images <<<"$2"; shift 2 ;;
      --images=*) mode=given; read -r -a images <<<"${1#--images=}"; shift ;;
      --no-images) mode=none; shift ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  local t0; t0=$(now)
  if answers && alive "$(pid_of "$DOCKERD_PID")"; then
    say "already up ($SOCK)"
  else
    if [ -e "/run/netns/$NETNS" ] || [ -s "$DOCKERD_PID" ] || [ -s "$CTRD_PID" ]; then
      say "a previous engine 2 did not stop cleanly: clearing its processes, mounts and namespace (data kept)"
      teardown_runtime
    fi
    start_engine
    say "engine up in $(since "$t0") s"
  fi
  case $mode in
    none) ;;
    given) load_images "${images[@]}" ;;
    default)
      d1 version >/dev/null 2>&1 || say "warning: the main engine ($MAIN_HOST) does not answer: no images to copy"
      mapfile -t images < <(default_refs)
      load_images "${images[@]}"
      ;;
  esac
  say "up in $(since "$t0") s; disk: $(du -sh --one-file-system "$DATA" 2>/dev/null | cut -f1) in $DATA"
  say "use it: export DOCKER_HOST=unix://$SOCK"
}

cmd_down() {
  need_root
  local keep=0
  case ${1:-} in
    --keep-data) keep=1 ;;
    "") ;;
    *) die "down: unknown option $1" ;;
  esac
  local t0; t0=$(now)
  if [ ! -e "$RUN" ] && [ ! -e "$DATA" ] && [ ! -e "/run/netns/$NETNS" ] && [ -z "$(cgroup_dirs)" ]; then
    say "not up: nothing to do"
    return 0
  fi
  teardown_runtime kill
  if [ "$keep" = 1 ]; then
    rm -rf --one-file-system "$RUN"
    say "down in $(since "$t0") s; kept $DATA ($(du -sh --one-file-system "$DATA" 2>/dev/null | cut -f1)): the next up starts with its images"
    return 0
  fi
  # --one-file-system: never follow into a mount that is somehow still there
  local t size; t=$(now); size=$(du -sh --one-file-system "$DATA" 2>/dev/null | cut -f1 || true)
  rm -rf --one-file-system "$RUN" "$DATA"
  if [ -e "$RUN" ] || [ -e "$DATA" ]; then
    say "warning: could not remove all of $RUN $DATA"
  else
    say "removed $RUN and $DATA (${size:-0}) in $(since "$t") s"
  fi
  say "down in $(since "$t0") s (logs kept in $LOGS)"
}

cmd_status() {
  local dpid cpid up=1
  dpid=$(pid_of "$DOCKERD_PID"); cpid=$(pid_of "$CTRD_PID")
  if answers; then
    say "up: $SOCK ($(d2 version --format 'engine {{.Server.Version}}' 2>/dev/null))"
    up=0
  else
    say "down: $SOCK does not answer"
  fi
  say "  dockerd: $(alive "$dpid" && echo "pid $dpid" || echo 'not running')"
  say "  containerd: $(alive "$cpid" && echo "pid $cpid ($CTRD_SOCK)" || echo 'not running')"
  say "  netns $NETNS: $([ -e "/run/netns/$NETNS" ] && echo present || echo absent)"
  if [ "$up" = 0 ]; then
    say "  containers: $(d2 ps -q | wc -l) running, $(d2 ps -aq | wc -l) in all; images: $(d2 images -q | sort -u | wc -l)"
    local imgs; imgs=$(d2 images --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | paste -sd ' ' || true)
    [ -n "$imgs" ] && say "  tags: $imgs"
  fi
  [ -d "$DATA" ] && say "  disk: $(du -sh --one-file-system "$DATA" 2>/dev/null | cut -f1) in $DATA"
  return "$up"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) echo "DOCKER_HOST=unix://$SOCK" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
