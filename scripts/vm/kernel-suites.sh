#!/usr/bin/env bash
# The kernel-facing suites, as `npm run test:vm` and CI run them in the cgroup v2
# VM (docs/vm.md), in two passes:
#  1. test/sandbox and test/lessons, two files at a time;
#  2. the files that end with a host-wide "nothing left behind" check (security,
#     soak), one file at a time. On Debian 12's 6.1 kernel a destroyed sandbox's
#     cgroup stays dying for 60-120 s before the kernel frees it by itself
#     (docs/security.md, known gap 9), so a host-wide count taken while another
#     file keeps destroying sandboxes never gets back to its baseline; alone, each
#     file's count does, and that is what the check is for.
# Under emulation the guest runs 10-20x slower than a host, and a lesson transcript
# typed at a learner's pace is timing-sensitive there (a check round that lands
# late), so each failed test is run once more there (--retry=1; the host does not
# retry). A test that fails twice fails the run (docs/vm.md).
# CI (NSLAB_VM_SUBSET=ci) leaves out of pass 1 the lessons' Korean and Chinese runs:
# they type the same transcripts and run the same checks as the English one, and what
# they add, the messages in another language, does not depend on the kernel; the host
# stage runs them, and `npm run test:vm` runs them here too. That halves the lessons'
# time under emulation, which keeps CI within its 90 minutes (docs/vm.md).
# usage: kernel-suites.sh [REPORT_DIR]   (JSON reports pass1.json and pass2.json)
# Keep the lists in step with docs/vm.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
PARALLEL=(test/sandbox test/lessons)
ONE_AT_A_TIME=(test/security/hostile.test.ts test/security/posture.test.ts test/security/host-effects.test.ts test/soak)

out=${1:-}
r1=() r2=()
if [ -n "$out" ]; then
  mkdir -p "$out" && rm -f "$out/pass1.json" "$out/pass2.json"
  r1=(--reporter=default --reporter=json "--outputFile=$out/pass1.json")
  r2=(--reporter=default --reporter=json "--outputFile=$out/pass2.json")
fi

subset=()
if [ "${NSLAB_VM_SUBSET:-}" = ci ]; then
  # vitest matches the full name: "lesson ID (zh) on a cgroup-v2 host > ..."
  subset=(--testNamePattern '^(?!lesson [a-z0-9-]+ \((ko|zh)\) on a ).*')
fi
echo "=== pass 1: ${PARALLEL[*]}${subset:+ (CI subset: the lessons in English only)} ==="
npx vitest run --retry=1 "${PARALLEL[@]}" "${subset[@]}" "${r1[@]}"
rc1=$?
echo "=== pass 2, one file at a time: ${ONE_AT_A_TIME[*]} ==="
npx vitest run --retry=1 --no-file-parallelism "${ONE_AT_A_TIME[@]}" "${r2[@]}"
rc2=$?
echo "=== kernel suites: pass 1 exit $rc1, pass 2 exit $rc2 ==="
[ $rc1 = 0 ] && [ $rc2 = 0 ]
