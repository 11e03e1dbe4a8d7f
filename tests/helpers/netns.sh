# tests/helpers/netns.sh — test hosts made from network namespaces (sourced
# after tests/lib.sh), as tests/integration/50_cluster_faults.sh makes them: a
# bridge in a switch namespace, one veth link per host, 10.77.0.0/24 inside our
# namespaces only. Set NS_HOSTS (names) and NS_IP (an associative array
# name -> address) first; netns_up makes them, netns_down removes them (the
# caller's EXIT trap must call it), on HOST CMD runs CMD there, on_exec is
# for bg (the recorded pid is the process itself), ns_cut HOST / ns_heal HOST
# take the host's link down and up (a partition).
NS_TAG=$$
NS_SW="sfsw$NS_TAG"

netns_down() {
  local h
  for h in "${NS_HOSTS[@]}"; do ip netns del "sf$h$NS_TAG" 2>/dev/null; done
  ip netns del "$NS_SW" 2>/dev/null
  return 0
}

netns_up() {
  [ "$(id -u)" -eq 0 ] || return 1
  ip netns add "$NS_SW" || return 1
  ip -n "$NS_SW" link add br0 type bridge || return 1
  ip -n "$NS_SW" link set br0 up
  ip -n "$NS_SW" link set lo up
  local h
  for h in "${NS_HOSTS[@]}"; do
    ip netns add "sf$h$NS_TAG" || return 1
    ip link add "v$h$NS_TAG" type veth peer name "s$h$NS_TAG" || return 1
    ip link set "v$h$NS_TAG" netns "sf$h$NS_TAG"
    ip link set "s$h$NS_TAG" netns "$NS_SW"
    ip -n "$NS_SW" link set "s$h$NS_TAG" master br0
    ip -n "$NS_SW" link set "s$h$NS_TAG" up
    ip -n "sf$h$NS_TAG" link set lo up
    ip -n "sf$h$NS_TAG" link set "v$h$NS_TAG" name eth0
    ip -n "sf$h$NS_TAG" addr add "${NS_IP[$h]}/24" dev eth0
    ip -n "sf$h$NS_TAG" link set eth0 up
  done
}

on() { local h=$1; shift; ip netns exec "sf$h$NS_TAG" "$@"; }
on_exec() { local h=$1; shift; exec ip netns exec "sf$h$NS_TAG" "$@"; }
ns_cut() { ip -n "sf$1$NS_TAG" link set eth0 down; }
ns_heal() { ip -n "sf$1$NS_TAG" link set eth0 up; }
