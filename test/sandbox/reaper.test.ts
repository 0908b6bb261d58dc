/**
 * nslab-reaper, the subreaper every crun process runs under (helpers/nslab-reaper.c):
 * COMMAND's status comes through, what COMMAND leaves behind is killed and reaped,
 * SIGTERM is passed on and followed by SIGKILL, SIGHUP ends COMMAND, -o sets COMMAND's OOM score,
 * -d: a resize during the runtime's start reaches the process it leaves.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDriverConfig } from '../../lab-server/sandbox/config.ts';
import { ensureHelper } from '../../lab-server/sandbox/host-helpers.ts';
import { processTable } from '../procs.ts';

const reaper = ensureHelper(loadDriverConfig().dataDir, 'nslab-reaper');

/** pids of live processes whose command line contains `marker` */
function alive(marker: string): number[] {
  return processTable().filter((p) => p.cmdline.includes(marker) && p.state !== 'Z').map((p) => p.pid);
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('nslab-reaper', () => {
  it('passes COMMAND\'s exit status and death by signal through, and sets the rlimits it is given', () => {
    expect(spawnSync(reaper, ['--', 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(spawnSync(reaper, ['--', 'sh', '-c', 'kill -KILL $$']).signal).toBe('SIGKILL');
    const limits = spawnSync(reaper, ['-r', 'nofile=100:200', '-r', 'core=0:0', '--', 'sh', '-c', 'ulimit -Sn; ulimit -Hn; ulimit -c'], { encoding: 'utf8' });
    expect(limits.stdout.split('\n').slice(0, 3)).toEqual(['100', '200', '0']);
    expect(spawnSync(reaper, ['-r', 'bogus=1:2', '--', 'true'], { encoding: 'utf8' }).status).toBe(125);
    expect(spawnSync(reaper, ['--', '/no/such/program']).status).toBe(127);
  });

  it('sets COMMAND\'s OOM score adjustment (-o) and keeps its own', () => {
    const own = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
    const r = spawnSync(reaper, ['-o', '700', '--', 'sh', '-c', 'cat /proc/$$/oom_score_adj; cat /proc/$PPID/oom_score_adj'], { encoding: 'utf8' });
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['700', own]);
    for (const bad of ['1001', '-1001', 'x', '']) expect(spawnSync(reaper, ['-o', bad, '--', 'true']).status).toBe(125);
  });

  it('works when started with SIGCHLD ignored (inherited SIG_IGN would have hidden COMMAND\'s end)', () => {
    const r = spawnSync('sh', ['-c', `trap '' CHLD; exec "$0" -- sh -c 'exit 5'`, reaper], { timeout: 20_000 });
    expect(r.status).toBe(5);
  });

  it('kills and reaps what COMMAND left behind once COMMAND has ended', async () => {
    const marker = `reaper-orphan-${process.pid}`;
    // COMMAND starts a child, then exits: the child is orphaned
    const script = `bash -c 'exec -a ${marker} sleep 300' & sleep 0.2; exit 0`;
    // without the reaper it lives on (the control)
    // (stdio ignored: a pipe held open by the orphan would keep spawnSync waiting)
    expect(spawnSync('sh', ['-c', script], { stdio: 'ignore' }).status).toBe(0);
    const survivors = alive(marker);
    expect(survivors.length).toBe(1);
    for (const pid of survivors) process.kill(pid, 'SIGKILL');
    // with it, it goes
    expect(spawnSync(reaper, ['--', 'sh', '-c', script], { stdio: 'ignore' }).status).toBe(0);
    expect(alive(marker)).toEqual([]);
  });

  it('passes SIGTERM on, and SIGKILLs a COMMAND that ignores it after the grace', async () => {
    const marker = `reaper-term-${process.pid}`;
    const polite = spawn(reaper, ['--', 'sh', '-c', `bash -c 'exec -a ${marker} sleep 300' & echo up; wait`]);
    await new Promise((r) => polite.stdout.once('data', r));
    polite.kill('SIGTERM');
    expect(await exited(polite)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(alive(marker)).toEqual([]);

    const stubborn = spawn(reaper, ['-g', '300', '--', 'sh', '-c', "trap '' TERM; echo up; while :; do sleep 0.05; done"]);
    await new Promise((r) => stubborn.stdout.once('data', r));
    stubborn.kill('SIGTERM');
    expect(await exited(stubborn)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('ends COMMAND with SIGTERM when its terminal hangs up', async () => {
    const child = spawn(reaper, ['--', 'sh', '-c', "trap 'exit 42' TERM; trap '' HUP; echo up; while :; do sleep 0.05; done"]);
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGHUP');
    expect(await exited(child)).toEqual({ code: 42, signal: null });
  });

  // -d: what `crun run -d` / `crun exec -d` leave (the sandbox's init, a terminal's script(1)) is kept, not killed
  it('-d: after COMMAND succeeded, stays until what it left has ended and exits with the status of the first of it to end', async () => {
    const marker = `reaper-detach-${process.pid}`;
    // COMMAND exits 0 at once; the subshell it left says "up", sleeps, and ends with 3
    const kept = spawn(reaper, ['-d', '--', 'sh', '-c', `(echo up; bash -c 'exec -a ${marker} sleep 0.5'; exit 3) & exit 0`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => kept.stdout.once('data', r));
    const ended = exited(kept);
    expect(kept.exitCode).toBe(null);
    expect(await ended).toEqual({ code: 3, signal: null });
    // a failed COMMAND: as without -d, what it left goes at once
    const failed = spawnSync(reaper, ['-d', '--', 'sh', '-c', `bash -c 'exec -a ${marker} sleep 300' & sleep 0.2; exit 4`], { stdio: 'ignore' });
    expect(failed.status).toBe(4);
    expect(alive(marker)).toEqual([]);
  });

  it('-d: a resize while COMMAND still runs reaches what COMMAND leaves, once it is ours', async () => {
    // what `crun exec -d` does to a terminal's script(1): starts it, and only exits a moment later
    const left = `bash -c 'trap "echo winch" WINCH; echo up; while :; do sleep 0.05; done'`;
    const r = spawn(reaper, ['-d', '-g', '300', '--', 'sh', '-c', `${left} & sleep 1; exit 0`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      r.stdout.on('data', (d) => {
        out += d;
        if (out.includes('up') && !out.includes('resized')) { out += ' resized'; r.kill('SIGWINCH'); }
        if (out.includes('winch')) { clearTimeout(timer); resolve(true); }
      });
    });
    const ended = exited(r);
    try {
      expect(await heard, 'the process COMMAND left never heard of the resize').toBe(true);
    } finally {
      r.kill('SIGTERM');
      await ended;
    }
  });

  it('-d: passes SIGTERM and a hangup on to what COMMAND left, and SIGKILLs it after the grace', async () => {
    const marker = `reaper-detach-term-${process.pid}`;
    const polite = spawn(reaper, ['-d', '--', 'sh', '-c', `bash -c 'echo up; exec -a ${marker} sleep 300' & exit 0`]);
    await new Promise((r) => polite.stdout.once('data', r));
    polite.kill('SIGHUP');
    expect(await exited(polite)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(alive(marker)).toEqual([]);

    const stubborn = spawn(reaper, ['-d', '-g', '300', '--', 'sh', '-c', `bash -c "trap '' TERM; echo up; while :; do sleep 0.05; done" & exit 0`]);
    await new Promise((r) => stubborn.stdout.once('data', r));
    stubborn.kill('SIGTERM');
    expect(await exited(stubborn)).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
