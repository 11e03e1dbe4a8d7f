#!/usr/bin/env bash
# 70_package.sh — the Debian package, installed and run as an operator would.
#
# `make deb` builds the package; lintian checks it at its default level. The
# package is then installed with dpkg -i into a throwaway root: a copy-on-
# write overlay of this machine's / (whose packages satisfy the dependencies)
# in a private mount and network namespace, so nothing reaches the host and
# the daemons listen on their default ports without meeting anyone else's.
# There the test checks the user the units run as, the units (systemd-analyze
# verify), the man pages, starts the controller and the agent exactly as
# their units' ExecStart and User say (with a NOTIFY_SOCKET, as Type=notify
# gives them), lists the agent's streams with the installed CLI, asks
# /healthz and /readyz, and drives bash and zsh completion.
# sf-test: serial (tests/run.sh runs it alone: dpkg, lintian and man-db take the CPU in bursts)
source "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
  not_ok "package test needs root (dpkg -i, mount and network namespaces)"
  exit 1
fi

( cd "$SF_ROOT" && make -s deb ) >"$T/mkdeb.log" 2>&1
deb=$(ls "$SF_ROOT"/build/deb/streamfleet_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  not_ok "make deb builds a package" "$(tail -5 "$T/mkdeb.log")"
  exit 1
fi
ok "make deb builds $(basename "$deb")"
if lintian --fail-on error,warning "$deb" >"$T/lintian.log" 2>&1; then
  ok "lintian finds no error or warning"
else
  not_ok "lintian finds no error or warning" "$(grep -E '^[EW]:' "$T/lintian.log" | head -5 | tr '\n' ' ')"
fi

cat >"$T/inner.sh" <<'INNER'
set -u
T=$1; deb=$2
R=$T/root
mkdir -p "$R" "$T/ovl"
fails=0
ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1${2:+ # $2}"; fails=$((fails + 1)); }
check()  { local n=$1; shift; if "$@" >/dev/null 2>&1; then ok "$n"; else not_ok "$n"; fi; }
wait_for() { local n=$1; shift; for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
pids=(); daemons=()
stop_daemons() {
  local p
  for p in "${daemons[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${daemons[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$p" 2>/dev/null; done
  daemons=()
}
finish() {
  stop_daemons
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$p" 2>/dev/null; done
}
trap finish EXIT
mount -t tmpfs tmpfs "$T/ovl" && mkdir "$T/ovl/u" "$T/ovl/w" &&
  mount -t overlay overlay -o "lowerdir=/,upperdir=$T/ovl/u,workdir=$T/ovl/w" "$R" &&
  mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
  mount -t tmpfs tmpfs "$R/run" && mount -t tmpfs tmpfs "$R/tmp" || { not_ok "throwaway root"; exit 1; }
ip link set lo up
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# A package from an earlier run on this machine would make this an upgrade
in_root dpkg --purge streamfleet >/dev/null 2>&1
cp "$deb" "$R/tmp/streamfleet.deb"
if in_root dpkg -i /tmp/streamfleet.deb >"$T/dpkg.log" 2>&1; then ok "dpkg -i installs the package"
else not_ok "dpkg -i installs the package" "$(tail -3 "$T/dpkg.log" | tr '\n' ' ')"; exit 1; fi
check "the package made the streamfleet system user" in_root getent passwd streamfleet
check "streamfleet --version names the version and protocol" sh -c "chroot '$R' streamfleet --version | grep -Eq '^streamfleet [0-9.]+ \(protocol [0-9]+\)$'"
for u in controller agent; do
  if in_root systemd-analyze verify "/lib/systemd/system/streamfleet-$u.service" >"$T/verify-$u.log" 2>&1
  then ok "systemd-analyze verify passes streamfleet-$u.service"
  else not_ok "systemd-analyze verify passes streamfleet-$u.service" "$(head -3 "$T/verify-$u.log" | tr '\n' ' ')"; fi
  check "streamfleet-$u.service is Type=notify with hardening" sh -c \
    "grep -q '^Type=notify' '$R/lib/systemd/system/streamfleet-$u.service' && grep -q '^ProtectSystem=strict' '$R/lib/systemd/system/streamfleet-$u.service' && grep -q '^NoNewPrivileges=yes' '$R/lib/systemd/system/streamfleet-$u.service'"
done
check "man streamfleet works after install" sh -c "chroot '$R' env MANPAGER=cat MANWIDTH=100 man streamfleet 2>/dev/null | grep -q 'streams show'"
check "man streamfleet-controller lists the options of its table" sh -c "chroot '$R' env MANPAGER=cat MANWIDTH=100 man 8 streamfleet-controller 2>/dev/null | grep -q -- '--data-dir'"
check "man 5 streamfleet-agent.conf describes the config file" sh -c "chroot '$R' env MANPAGER=cat MANWIDTH=100 man 5 streamfleet-agent.conf 2>/dev/null | grep -q 'poll-interval-ms'"
check "the default configs are conffiles" sh -c "chroot '$R' dpkg-query -W -f='\${Conffiles}' streamfleet | grep -q /etc/streamfleet/controller.conf"

# Certificates as docs/operations.md says, readable by the daemons' group
in_root sh -e -c '
  cd /etc/streamfleet
  streamfleet keygen --role controller --name controller --out controller >/dev/null
  cp controller controller.pub
  streamfleet keygen --role agent --node n1 --out agent >/dev/null
  cp agent allowed/n1.cert
  mkdir -p /root/.streamfleet
  streamfleet keygen --role cli --name ops --out /root/.streamfleet/cli >/dev/null
  cp /root/.streamfleet/cli allowed/ops.cert
  cp controller /root/.streamfleet/controller
  chgrp streamfleet controller_secret agent_secret && chmod 0640 controller_secret agent_secret'
# The agent's config: the two lines an operator sets
printf 'node = n1\nsource = simulate\nsim-streams = 25\n' >>"$R/etc/streamfleet/agent.conf"

# start_unit NAME: runs the unit's ExecStart as its User, in its
# StateDirectory, with a NOTIFY_SOCKET whose messages go to $T/notify-NAME
start_unit() {
  local u=$1 unit="$R/lib/systemd/system/streamfleet-$1.service"
  local exec user state
  exec=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  state=$(sed -n 's/^StateDirectory=//p' "$unit")
  install -d -m 0750 -o "$(in_root id -u "$user")" -g "$(in_root id -g "$user")" "$R/var/lib/$state"
  /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n"); out.flush()
' "$R/run/notify-$u" "$T/notify-$u" &
  pids+=($!)
  wait_for x test -S "$R/run/notify-$u"
  chmod 0777 "$R/run/notify-$u"
  # shellcheck disable=SC2086
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin NOTIFY_SOCKET="/run/notify-$u" \
    setpriv --reuid="$user" --regid="$user" --init-groups $exec >"$T/$u.log" 2>&1 &
  daemons+=($!)
}
start_unit controller
if wait_for x grep -q READY=1 "$T/notify-controller"; then ok "the controller tells the service manager READY=1"
else not_ok "the controller tells the service manager READY=1" "$(tail -3 "$T/controller.log" | tr '\n' ' ')"; fi
start_unit agent
if wait_for x grep -q READY=1 "$T/notify-agent"; then ok "the agent tells the service manager READY=1"
else not_ok "the agent tells the service manager READY=1" "$(tail -3 "$T/agent.log" | tr '\n' ' ')"; fi
count() { in_root streamfleet streams -o json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("total", len(d.get("rows", d.get("streams", [])))))'; }
if wait_for x sh -c "test \"\$(chroot '$R' env HOME=/root streamfleet streams -o json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 25"
then ok "the installed CLI lists the agent's 25 streams"
else not_ok "the installed CLI lists the agent's 25 streams" "$(in_root streamfleet streams 2>&1 | tail -2 | tr '\n' ' ')"; fi
in_root streamfleet streams >"$T/listing.txt" 2>&1
check "the table listing names a simulated stream" grep -q 'n1-cam' "$T/listing.txt"
check "GET /healthz answers 200" curl -sf -o /dev/null http://127.0.0.1:7680/healthz
check "GET /readyz answers 200 once the store is open" curl -sf -o /dev/null http://127.0.0.1:7680/readyz

# bash completion, as bash-completion loads it
comp() {
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin HOME=/root bash -c '
    source /usr/share/bash-completion/completions/streamfleet
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _streamfleet; printf "%s\n" "${COMPREPLY[@]}"' comp "$@"
}
check "bash: complete -p names _streamfleet" sh -c "chroot '$R' bash -c 'source /usr/share/bash-completion/completions/streamfleet; complete -p streamfleet' | grep -q -- '-F _streamfleet'"
check "bash: 'streamfleet st<TAB>' completes streams" sh -c "$(declare -f comp); R='$R'; comp streamfleet st | grep -qx streams"
check "bash: --filter completes after a comma" sh -c "$(declare -f comp); R='$R'; comp streamfleet streams --filter primary,se | grep -qx primary,secondary"
first=$(grep -o 'n1-cam[0-9]*' "$T/listing.txt" | sort | head -1)
check "bash: 'streams show <TAB>' offers stream names from the controller" sh -c "$(declare -f comp); R='$R'; comp streamfleet streams show '${first:0:6}' | grep -qx '$first'"
check "bash: --node completes node ids from the controller" sh -c "$(declare -f comp); R='$R'; comp streamfleet streams --node n | grep -qx n1"
# zsh: the completion file loads, and its name helpers ask the controller
cat >"$R/tmp/zcomp.zsh" <<'Z'
compadd () { [[ $1 == -a ]] && print -l -- ${(P)2} || print -l -- "$@"; }
_arguments () { :; }
_describe () { :; }
source /usr/share/zsh/vendor-completions/_streamfleet
PREFIX=$1
_streamfleet_streams
PREFIX=n
_streamfleet_nodes
Z
zout=$(chroot "$R" env -i PATH=/usr/sbin:/usr/bin HOME=/root zsh -f /tmp/zcomp.zsh "${first:0:6}" 2>&1)
check "zsh: the completion's stream names come from the controller" sh -c "printf '%s\n' \"\$1\" | grep -qx '$first'" _ "$zout"
check "zsh: the completion's node ids come from the controller" sh -c "printf '%s\n' \"\$1\" | grep -qx n1" _ "$zout"

stop_daemons
check "the controller says STOPPING=1 when stopped" wait_for x grep -q STOPPING=1 "$T/notify-controller"
[ "$fails" -eq 0 ]
INNER
unshare -m -n --propagation private bash "$T/inner.sh" "$T" "$deb"
