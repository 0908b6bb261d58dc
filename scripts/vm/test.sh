#!/usr/bin/env bash
# `npm run test:vm -- [vitest args]`: the kernel-facing suites, or the vitest
# arguments given, run inside the cgroup v2 test VM (scripts/vm/run.sh; docs/vm.md).
# Without arguments: every suite that touches the kernel, soak in its short version.
# env: NSLAB_VM_MEM (MiB, default 6144), NSLAB_VM_CPUS, NSLAB_VM_TIMEOUT (default 90m),
#      NSLAB_VM_OUT (a host directory the guest may write reports to, e.g. --outputFile)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

# Keep in step with docs/vm.md and .ci/run.
KERNEL_SUITES=(test/sandbox test/lessons test/security/hostile.test.ts test/security/posture.test.ts test/security/host-effects.test.ts test/soak)

[ $# -gt 0 ] || set -- "${KERNEL_SUITES[@]}"
# The guest sees this checkout, so it needs the dependencies and the default
# image that the host's set-up makes (the guest cannot keep what it builds).
bash scripts/setup.sh --quiet
opts=(-m "${NSLAB_VM_MEM:-6144}" -t "${NSLAB_VM_TIMEOUT:-90m}")
[ -n "${NSLAB_VM_CPUS:-}" ] && opts+=(-c "$NSLAB_VM_CPUS")
[ -n "${NSLAB_VM_OUT:-}" ] && opts+=(-o "$NSLAB_VM_OUT")
exec bash scripts/vm/run.sh "${opts[@]}" -- npx vitest run "$@"
