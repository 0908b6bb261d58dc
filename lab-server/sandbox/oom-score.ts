/**
 * OOM scores of a sandbox's processes: its PID 1 is never the OOM killer's choice
 * while the learner's processes are; see docs/security.md, "cgroup v2".
 */
import { writeFileSync } from 'node:fs';

/** oom_score_adj of every learner process (terminals, exec): see crunExecArgv in crun.ts */
export const LEARNER_OOM_SCORE = 500;

let oomWarned = false;

/**
 * The memory cgroup's OOM killer must never pick a sandbox's PID 1, whose death
 * ends the sandbox: on cgroup v2 (socket buffers charged to memory.max) it took
 * init once the learner's processes were gone (docs/security.md, "cgroup v2").
 * Only a holder of CAP_SYS_RESOURCE can lower a score, so the learner cannot
 * undo this for its own processes, which enter through `crun exec` at
 * LEARNER_OOM_SCORE. Host root without that capability (some VMs and containers
 * drop it) leaves PID 1 at 0: still chosen after every learner process, but
 * chosen when it is the last one left, which ends the sandbox like any other
 * death of PID 1.
 */
export function protectFromOom(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, '-1000');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    if (!oomWarned) console.error('nslab: host root lacks CAP_SYS_RESOURCE: sandboxes\' PID 1 stays a candidate of the OOM killer (docs/security.md, "cgroup v2")');
    oomWarned = true;
  }
}
