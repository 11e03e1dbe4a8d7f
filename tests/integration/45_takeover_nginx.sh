#!/usr/bin/env bash
# 45_takeover_nginx.sh — a real failover is not orderly (issue 14,
# docs/migrations.md "The state machine"): two nginx-rtmp servers A and B,
# each with its agent, and ffmpeg cameras with audio. A's agent freezes
# (SIGSTOP: to the controller A is silent, while A's nginx keeps the stream
# running); within a second B's server takes the camera over, while A is only
# suspect. Once A is declared down that is one failover, timed at the
# takeover, and the current node is B. A's agent then comes back (SIGCONT)
# with the stale stream still running on A: both placements are flagged
# conflict (listing, --filter conflict, event) until A's stream stops; A's
# stopped placement keeps its audio mark; node counts use the derived type.
. "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/nginx_rtmp.sh"

nginx_rtmp_installed || { not_ok "nginx with the RTMP module and ffmpeg are installed (make deps)"; exit 1; }

sf_keys || { not_ok "certificates made"; exit 1; }
start_controller c1 --suspect-ms 1000 --down-ms 8000 --transfer-timeout 60 \
  || { not_ok "controller c1 started"; exit 1; }

check "nginx A serves its stat page" nginx_up A
check "nginx B serves its stat page" nginx_up B
nginx_agent_up A "$CTL_c1_AGENTS" --poll-interval-ms 300 --heartbeat-ms 200
nginx_agent_up B "$CTL_c1_AGENTS" --poll-interval-ms 300 --heartbeat-ms 200

kinds() { cli migrations cam1 -o json | json_get "[e['kind'] for e in reversed(d['events'])]"; }
kinds_are() { [ "$(kinds)" = "$1" ]; }
liveness() { cli nodes -o json | json_get "[n['liveness'] for n in d['nodes'] if n['id']=='$1'][0]"; }
is_live() { [ "$(liveness "$1")" = "$2" ]; }
current_is() { cli streams show cam1 --no-color | grep -q "^Current node: $1"; }

publish_cam1 pubA "$RTMP_A" audio
check "cam1 active on A, with audio" wait_until 20 cam1_row A "s['status']=='active' and 'audio' in s['functions']"
check "B is up" wait_until 10 is_live B alive

# --- A's agent goes silent; B's server takes the camera over at once
kill -STOP "$(pid_of agent_A)"
publish_cam1 pubB "$RTMP_B" audio
check "B runs cam1" wait_until 20 cam1_row B "s['status']=='active'"
check "... while A is only suspect (not yet down)" wait_until 6 is_live A suspect
check "A is declared down after --down-ms" wait_until 20 is_live A down
check "one failover A -> B, nothing else" wait_until 10 kinds_are "['failover']"
#  B's start to the ms (started_at_ms, from nginx's <time>), which started_at
#  rounds to its second; A's death is seconds later (--down-ms 8000)
check "the failover is timed at B's takeover, not at A's death" bash -c "\"$BIN/streamfleet\" migrations cam1 -o json | $PYTHON -c '
import json,sys; e=json.load(sys.stdin)[\"events\"][0]
sys.exit(0 if (e[\"from\"],e[\"to\"])==(\"A\",\"B\") else 1)'
\"$BIN/streamfleet\" streams --node B --name cam1 -o json | $PYTHON -c '
import json,sys,subprocess; s=[r for r in json.load(sys.stdin)[\"streams\"] if r[\"name\"]==\"cam1\"][0]
e=json.loads(subprocess.check_output([\"$BIN/streamfleet\",\"migrations\",\"cam1\",\"-o\",\"json\"]))[\"events\"][0]
sys.exit(0 if abs(e[\"at_ms\"]-s[\"started_at\"]*1000)<1000 else 1)'"
check "current node is B, never the down A" current_is B
check "A's placement: migrated to B, offline" cam1_row A "s['type']=='migrated' and s['migrated_to']=='B' and s['status']=='offline'"
check "B's placement: no transfer flag" cam1_row B "not s['transfer'] and not s['conflict']"

# --- A's agent comes back; A's nginx still runs the stale stream
kill -CONT "$(pid_of agent_A)"
check "A is alive again" wait_until 20 is_live A alive
check "A's stale copy is flagged conflict" wait_until 20 cam1_row A "s['conflict'] and s['status']=='active' and s['type']=='migrated'"
check "B's placement is flagged conflict too" cam1_row B "s['conflict']"
nconflict() { cli streams --filter conflict -o json | json_get "d['total']"; }
check "--filter conflict lists both" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --filter conflict -o json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 2 ]"
check "the listing marks !conflict" bash -c "\"$BIN/streamfleet\" streams --name cam1 --no-color | grep -q '!conflict'"
check "one conflict event B -> A after the failover" kinds_are "['failover', 'conflict']"
check "current node is still B" current_is B
check "nodes: A counts no primary (migrated), B one" bash -c "\"$BIN/streamfleet\" nodes -o json | $PYTHON -c '
import json,sys; n={x[\"id\"]: x[\"counts\"][\"primary\"] for x in json.load(sys.stdin)[\"nodes\"]}; sys.exit(0 if n==dict(A=0,B=1) else 1)'"

# --- the stale copy stops: the conflict ends; A keeps its last functions
stop pubA
check "A's placement stops and is no longer in conflict" wait_until 20 cam1_row A "s['status']!='active' and not s['conflict']"
check "B's placement is no longer in conflict" wait_until 10 cam1_row B "not s['conflict']"
check "A's stopped placement keeps its audio mark" cam1_row A "'audio' in s['functions']"
check "--filter audio still finds A's archive placement" bash -c "[ \"\$(\"$BIN/streamfleet\" streams --node A --filter audio -o json | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = 1 ]"
check "the history is unchanged by the stop" kinds_are "['failover', 'conflict']"
sf_done
