#!/usr/bin/env bash
# 14_agent_generation.sh — an agent restart is a new generation (issue 2,
# items 3 and 5): the generation persisted in --state-dir/generation rises at
# every start, the controller takes a snapshot of the new generation and
# replaces the node's set with it (streams gone while the agent was down are
# deleted), and the listing's version (gen/seq, -o wide) follows. An agent
# whose state directory was lost moves past the generation the controller
# already knows.
source "$(dirname "$0")/../lib.sh"
source "$SF_ROOT/tests/helpers/sf_checks.sh"

sf_keys
start_controller c1 || { not_ok "controller starts"; exit 1; }
P1=$(free_port)
GENFILE=$T/agent-n1/generation
mkdir -p "$T/agent-n1"
# A generation ahead of the clock: the next must be exactly one more, which
# shows the file is read, not only the clock
G0=$(( $(date +%s) + 100000 ))
echo "$G0" >"$GENFILE"
AGENT_ARGS=(--source push --push-listen "127.0.0.1:$P1" --poll-interval-ms 200)
start_agent n1 "$CTL_c1_AGENTS" "${AGENT_ARGS[@]}"
check "push endpoint answers" wait_until 10 push_ok "$P1" '{"reset": true}'
check "generation file holds the persisted generation plus one" \
  wait_until 5 bash -c "[ \"\$(cat '$GENFILE')\" = $((G0 + 1)) ]"
G1=$(cat "$GENFILE")
check "four streams pushed" push_ok "$P1" '{"name": "cam-a"}' '{"name": "cam-b"}' \
  '{"name": "cam-c", "status": "suspend"}' '{"name": "cam-d"}'
check "four streams listed" wait_until 15 total_is 4

# version gen/seq in -o wide
wide_versions() { cli streams -o wide | grep -oE 'version=[0-9]+/[0-9]+' | sed 's/version=//'; }
check "-o wide shows version gen/seq of generation $G1" \
  bash -c "[ \$(cli streams -o wide | grep -c 'version=$G1/') = 4 ]"
SEQ_B=$(cli streams -o wide --name cam-b | grep -oE "version=$G1/[0-9]+" | cut -d/ -f2)
check "an update raises the record's seq within the generation" push_ok "$P1" '{"name": "cam-b", "clients": 9}'
check "-o wide shows the higher seq after the update" \
  wait_until 10 bash -c "s=\$(cli streams -o wide --name cam-b | grep -oE 'version=$G1/[0-9]+' | cut -d/ -f2); [ -n \"\$s\" ] && [ \"\$s\" -gt $SEQ_B ]"
SNAPS=$(log_count "$T/c1.log" 'snapshot of n1 applied')

# Restart: the push source keeps its state in memory, so the new agent starts
# empty; cam-c and cam-d are not pushed again: they went while it was down.
stop agent_n1
start_agent n1 "$CTL_c1_AGENTS" "${AGENT_ARGS[@]}"
check "push endpoint answers after the restart" wait_until 10 push_ok "$P1" '{"name": "cam-a"}' '{"name": "cam-b"}'
check "generation rose by one at the restart" wait_until 5 bash -c "[ \"\$(cat '$GENFILE')\" = $((G1 + 1)) ]"
G2=$(cat "$GENFILE")
check "controller log says a snapshot of the new generation was applied" \
  wait_until 10 bash -c "[ \$(grep -c 'snapshot of n1 applied' '$T/c1.log') -gt $SNAPS ] && grep -q 'snapshot of n1 applied.* at $G2/' '$T/c1.log'"
check "streams deleted while the agent was down are gone" \
  wait_until 15 bash -c "[ \"\$(names --sort name)\" = 'cam-a cam-b' ]"
check "-o wide shows the new generation on every record" \
  wait_until 10 bash -c "[ \$(cli streams -o wide | grep -c 'version=$G2/') = 2 ] && ! cli streams -o wide | grep -q 'version=$G1/'"
check "cam-b's earlier update is gone with the old generation (clients 0 again)" \
  bash -c "[ \$(row_field cam-b 'r[\"clients\"]') = 0 ]"

# Lost state directory: the agent starts at the clock, behind the controller,
# and moves past the generation the controller has
stop agent_n1
rm -f "$GENFILE"
start_agent n1 "$CTL_c1_AGENTS" "${AGENT_ARGS[@]}"
check "an agent with a lost state directory is told of its newer generation and moves past it" \
  wait_until 10 grep -q 'newer than ours' "$T/agent_n1.log"
check "its generation is now above the one the controller had" \
  wait_until 5 bash -c "[ \"\$(cat '$GENFILE')\" -gt $G2 ]"
check "the agent with the lost state accepts pushes" wait_until 10 push_ok "$P1" '{"name": "cam-z"}'
G3=$(cat "$GENFILE")
check "the node's set is replaced under that generation" \
  wait_until 10 bash -c "[ \"\$(names)\" = cam-z ] && cli streams -o wide | grep -q 'version=$G3/'"

sf_done
