#!/usr/bin/env bash
# `npm run test:vm -- [vitest args]`: the kernel-facing suites, or the vitest
# arguments given, run inside the cgroup v2 test VM (scripts/vm/run.sh; docs/vm.md).
# Without arguments: every suite that touches the kernel, soak in its short
# version, in the two passes of scripts/vm/kernel-suites.sh (JSON reports in
# NSLAB_VM_OUT when it is set).
# env: NSLAB_VM_MEM (MiB, default 6144), NSLAB_VM_CPUS, NSLAB_VM_TIMEOUT (default 90m),
#      NSLAB_VM_SUBSET (ci: kernel-suites.sh's CI subset),
#      NSLAB_VM_OUT (a host directory the guest may write reports to, e.g. --outputFile)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

# The guest sees this checkout, so it needs the dependencies and the default
# image that the host's set-up makes (the guest cannot keep what it builds).
bash scripts/setup.sh --quiet
opts=(-m "${NSLAB_VM_MEM:-6144}" -t "${NSLAB_VM_TIMEOUT:-90m}")
# a sandbox under emulation can take longer than the 15 s a host gets to start
opts+=(-e "NSLAB_START_SECONDS=${NSLAB_START_SECONDS:-60}")
[ -n "${NSLAB_VM_CPUS:-}" ] && opts+=(-c "$NSLAB_VM_CPUS")
# run.sh keeps NSLAB_VM_* (its own settings) out of the guest: this one is for the guest
[ -n "${NSLAB_VM_SUBSET:-}" ] && opts+=(-e "NSLAB_VM_SUBSET=$NSLAB_VM_SUBSET")
[ -n "${NSLAB_VM_OUT:-}" ] && opts+=(-o "$NSLAB_VM_OUT")
[ $# -gt 0 ] && exec bash scripts/vm/run.sh "${opts[@]}" -- npx vitest run "$@"
exec bash scripts/vm/run.sh "${opts[@]}" -- bash scripts/vm/kernel-suites.sh ${NSLAB_VM_OUT:-}
