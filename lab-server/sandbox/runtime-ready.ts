/**
 * When a sandbox just made by `crun run` can be used. nslab-init prints its ready
 * line as soon as it runs, but crun writes the container's state (`<state
 * root>/<id>/status`, what every later `crun exec` opens first) only after its init
 * was started: crun 1.8's libcrun_container_run_internal receives the init's last
 * sync message, then writes the status. On a loaded host the init's line can come
 * first, and an exec in that gap fails with "error opening file .../status".
 * So ready means both: the line, and the status file.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const READY_LINE = 'nslab-init ready';
const STATUS_POLL_MS = 2;
const EXIT_DRAIN_MS = 50;

export function waitRuntimeReady(runner: ChildProcess, statusFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    let poll: NodeJS.Timeout | null = null;
    const timer = setTimeout(() => {
      runner.kill('SIGTERM');
      const what = out.includes(READY_LINE) ? `its runtime state (${statusFile}) was not written` : err.trim();
      done(new Error(`the sandbox did not start within ${timeoutMs} ms (NSLAB_START_SECONDS): ${what}`));
    }, timeoutMs);
    const done = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (poll) clearTimeout(poll);
      runner.stdout?.off('data', onOut);
      runner.removeListener('exit', onExit);
      if (e) reject(e); else resolve();
    };
    const waitStatus = () => {
      if (settled) return;
      if (existsSync(statusFile)) done();
      else poll = setTimeout(waitStatus, STATUS_POLL_MS);
    };
    const onOut = (b: Buffer) => {
      const before = out.includes(READY_LINE);
      out += b.toString();
      if (!before && out.includes(READY_LINE)) waitStatus();
    };
    // 'exit' can come before the last of stderr is read ('close' would wait for the
    // init too, which may hold the pipe): give the pipe a moment to say why
    const onExit = (code: number | null) => { setTimeout(() => done(new Error(`crun exited with ${code}: ${err.trim() || out.trim()}`)), EXIT_DRAIN_MS); };
    runner.stdout?.on('data', onOut);
    runner.stderr?.on('data', (b: Buffer) => { err += b.toString(); if (err.length > 4000) err = err.slice(-4000); });
    runner.once('exit', onExit);
    runner.once('error', (e) => done(e));
  });
}
