# nslab command log: every interactive bash in the sandbox reports each
# finished command (and each new prompt) to the lab server through the FIFO the
# server set up. This is the "back at a prompt" signal and the evidence for
# lesson steps that change no state. Costs one fork per prompt.
if [[ $- == *i* && -p /run/nslab/cmdlog && -z ${__nslab_hooked-} ]]; then
  __nslab_hooked=1          # deliberately not exported: nested shells hook themselves
  HISTCONTROL=              # every command gets its own history number
  __nslab_last=
  __nslab_report() {
    local st=$? out h ns n=0 cmd= kind=cmd
    # After `unshare --pid bash` (no --fork) this shell's children land in a new
    # pid namespace whose init is the first of them; once it exits, every fork
    # fails. Report without forking then, or bash would loop on "fork: Cannot
    # allocate memory" at every prompt.
    if ! [[ /proc/self/ns/pid -ef /proc/self/ns/pid_for_children ]]; then
      n=$((HISTCMD - 1))
      if [[ -z $__nslab_last ]]; then kind=ready; elif [[ $n == "$__nslab_last" ]]; then kind=prompt; fi
      __nslab_last=$n
      builtin printf 'nslab1\t%s\t%s\t%s\t%s\t%s\t\t\n' "$kind" "${NSLAB_TERM-0}" "$$" "$st" "$n" 2>/dev/null >> /run/nslab/cmdlog
      return $st
    fi
    out=$(HISTTIMEFORMAT= builtin history 1; builtin printf '\x1e'; exec readlink /proc/self/ns/cgroup /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/net /proc/self/ns/pid /proc/self/ns/time /proc/self/ns/user /proc/self/ns/uts 2>/dev/null)
    h=${out%%$'\x1e'*}
    ns=${out#*$'\x1e'}
    if [[ $h =~ ^[[:space:]]*([0-9]+)\*?[[:space:]][[:space:]](.*)$ ]]; then
      n=${BASH_REMATCH[1]}
      cmd=${BASH_REMATCH[2]}
    fi
    cmd=${cmd%$'\n'}
    if [[ -z $__nslab_last ]]; then kind=ready
    elif [[ $n == "$__nslab_last" ]]; then kind=prompt; cmd=
    fi
    __nslab_last=$n
    cmd=${cmd:0:2000}
    cmd=${cmd//\\/\\\\}; cmd=${cmd//$'\t'/\\t}; cmd=${cmd//$'\n'/\\n}; cmd=${cmd//$'\r'/\\r}
    ns=${ns//$'\n'/ }
    builtin printf 'nslab1\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "${NSLAB_TERM-0}" "$$" "$st" "$n" "$ns" "$cmd" 2>/dev/null >> /run/nslab/cmdlog
    return $st
  }
  PROMPT_COMMAND="__nslab_report${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
