# bash completion for streamfleet(1) — commands, options, filter parameters,
# and stream and node names asked of the controller (streamfleet complete).
# Installed as /usr/share/bash-completion/completions/streamfleet.

_streamfleet_names ()
{
    # $1: streams or nodes; $2: the word typed so far
    streamfleet "${_sf_global[@]}" complete "$1" "$2" 2>/dev/null
}

_streamfleet ()
{
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="streams migrations dvr nodes alerts cluster keygen complete help"
    local global="--controller --cert --server-cert --timeout-ms -o --output --no-color --help --version"
    local filters="primary secondary migrated active suspend transfer dvr audio"
    local sorts="name node status type clients bitrate uptime reconnects source"
    # The command is the first word that is not a global option or its value;
    # global options given so far are passed on to `streamfleet complete`
    _sf_global=()
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --controller|--cert|--server-cert|--timeout-ms)
                _sf_global+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); ((i++)) ;;
            -o|--output) ((i++)) ;;
            -*) ;;
            *) [ -z "$cmd" ] && cmd=${COMP_WORDS[i]} ;;
        esac
    done
    case $prev in
        -o|--output) COMPREPLY=($(compgen -W "table wide json" -- "$cur")); return ;;
        --cert|--server-cert|--out) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --controller) COMPREPLY=($(compgen -W "tcp://127.0.0.1:7601" -- "$cur")); return ;;
        --filter|-f)
            # a comma-separated list: complete the part after the last comma
            local done_part=${cur%,*} last=${cur##*,}
            [ "$done_part" = "$cur" ] && done_part="" || done_part="$done_part,"
            COMPREPLY=($(compgen -P "$done_part" -W "$filters" -- "$last")); return ;;
        --sort|-s) COMPREPLY=($(compgen -W "$sorts $(printf -- '-%s ' $sorts)" -- "$cur")); return ;;
        --node) COMPREPLY=($(compgen -W "$(_streamfleet_names nodes "$cur")" -- "$cur")); return ;;
        --name|-n) COMPREPLY=($(compgen -W "$(_streamfleet_names streams "$cur")" -- "$cur")); return ;;
        --role) COMPREPLY=($(compgen -W "agent cli peer controller" -- "$cur")); return ;;
    esac
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
        return
    fi
    case $cmd in
        streams)
            if [ "${COMP_WORDS[COMP_CWORD-1]}" = show ]; then
                COMPREPLY=($(compgen -W "$(_streamfleet_names streams "$cur")" -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--filter --name --node --sort --limit --offset --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "show" -- "$cur"))
            fi ;;
        dvr|migrations)
            if [ "$cmd" = migrations ] && [ "${COMP_WORDS[COMP_CWORD-1]}" = --kind ]; then
                COMPREPLY=($(compgen -W "transfer_started migrated failover transfer_stuck returned conflict" -- "$cur"))
            elif [[ $cur == -* ]] && [ "$cmd" = migrations ]; then
                COMPREPLY=($(compgen -W "--node --kind --since --start --end --limit --after --help" -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--at --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_streamfleet_names streams "$cur")" -- "$cur"))
            fi ;;
        nodes|cluster) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
        alerts)
            if [ "${COMP_WORDS[COMP_CWORD-1]}" = --stream ]; then
                COMPREPLY=($(compgen -W "$(_streamfleet_names streams "$cur")" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "rules firing recent --stream --node --help" -- "$cur"))
            fi ;;
        keygen) COMPREPLY=($(compgen -W "--role --node --name --out --force --help" -- "$cur")) ;;
        complete) COMPREPLY=($(compgen -W "streams nodes" -- "$cur")) ;;
    esac
}
complete -F _streamfleet streamfleet
