/**
 * Types a transcript into a sandbox the way a learner would.
 *
 * Each line goes into the current terminal followed by Enter. The next line is sent
 * when that terminal's shell reports back (a command-log event: a command finished, a
 * new shell's first prompt, an empty Enter), or when the screen ends in a continuation
 * prompt (`> `, Python's `>>> ` / `... `), or when the terminal has been quiet for a
 * while and the sandbox idle (a program reading input, a server waiting; not a silent
 * compiler, which keeps a core busy). The command log is the
 * primary signal because it is exact; the other two keep transcripts that drive
 * heredocs or interactive programs moving.
 *
 * When a check engine is attached, the runner waits for the evaluation triggered by
 * each command to finish before typing the next line, so grading sees the state right
 * after every command — as a learner watching the step list would.
 */
import type { IPty } from 'node-pty';
import type { CheckEngine } from '../checks/engine.ts';
import type { CommandEvent, Sandbox } from '../sandbox/types.ts';
import { ctrlByte, type Transcript } from './transcript.ts';

export interface RunnerOptions {
  /** no output for this long counts as "ready for the next line". Default 1500 ms. */
  quietMs?: number;
  /** a line gets at most this long before the next is typed anyway. Default 60 s. */
  lineTimeoutMs?: number;
  /** how long a new terminal may take to show its first prompt. Default 20 s. */
  startTimeoutMs?: number;
  /**
   * the whole transcript gets at most this long (default 10 min): a submission that
   * runs `yes` or sleeps for hours must not stall a class's grading
   */
  totalTimeoutMs?: number;
  engine?: CheckEngine;
  /** called after each typed line: how long it took and what ended the wait (for `nslab grade --verbose`) */
  onLine?: (line: number, text: string, ms: number, how: LineEnd) => void;
  cols?: number;
  rows?: number;
}

/** what let the next line go: the command log, a continuation prompt, silence, the terminal closing, or the line timeout */
export type LineEnd = 'prompt' | 'continuation' | 'quiet' | 'exited' | 'timeout';

export class TranscriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscriptError';
  }
}

interface Term {
  n: number;
  pty: IPty;
  text: string;
  lastOutput: number;
  /** counts output chunks: "output since the line was sent" must not rest on ms clocks (echo arrives in < 1 ms) */
  chunks: number;
  exited: boolean;
  /**
   * Lines that moved on by silence or timeout, before their shell reported them (a
   * long silent command, typed ahead of). Their late command-log events must not be
   * taken as the completion of a later line, or every later line would be paired with
   * its predecessor's event and typed before the checks saw its predecessor's effect.
   */
  owed: string[];
  /**
   * A shell heredoc is open (a line with `<<WORD` was typed and no command has finished
   * since): its lines are read by readline after a `> ` prompt, and a line typed before
   * that prompt lands in the tty's canonical mode, which eats the Ctrl-V before a Tab.
   * So in a heredoc only the prompt lets the next line go, never silence.
   */
  heredoc: boolean;
}

const MAX_OWED = 32;
const lastLine = (command: string): string => command.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';

const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_][^\x1b]*\x1b\\|\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]/g;
const KEEP_TEXT = 64 * 1024;
const CONTINUATION = /(?:^|\n)(?:> |>>> |\.\.\. )$/;
/**
 * A continuation prompt counts once the screen has rested this long on it. Short,
 * because a heredoc of a 60-line C file waits this long per line; not zero, because
 * output that merely passes through a "> " line must not count.
 */
const CONTINUATION_QUIET_MS = 40;
/** `<<WORD`, `<<-WORD`, `<< 'WORD'`, `<<"WORD"`; not a here-string (`<<<`) */
const HEREDOC = /(?<!<)<<-?[ \t]*(?:'[^']+'|"[^"]+"|\\?[A-Za-z_][A-Za-z0-9_]*)/;

/** whether a typed shell line opens a heredoc */
export function opensHeredoc(line: string): boolean {
  return HEREDOC.test(line);
}
const POLL_MS = 15;
/**
 * Silence counts only while the sandbox is idle too: a compiler is silent and busy,
 * and on a slow machine (the v2 test VM under emulation) it outlasts any quiet period;
 * typing ahead of it is harmless in its own terminal but not when the next line goes
 * to another terminal that needs its result. Idle: under a tenth of a core over this
 * window, and no process of the sandbox running or waiting for a disk (state R or D)
 * when the window ends. CPU time alone is not enough: a compiler reading its headers
 * from a slow disk (the VM's 9p root) is silent, mostly in D, and uses little CPU.
 */
const IDLE_WINDOW_MS = 250;
const BUSY_SHARE = 0.1;

/** Terminal output as plain text: escape sequences removed, CR/LF normalised. */
export function plainText(raw: string): string {
  return raw.replace(ANSI, '').replace(/\r+\n/g, '\n').replace(/\r/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TranscriptRunner {
  private terms = new Map<number, Term>();
  private current = 1;

  constructor(private readonly sandbox: Sandbox, private readonly opts: RunnerOptions = {}) {}

  /** What terminal n shows: recent output as plain text (the check API's terminalText). */
  terminalText(n: number): string {
    return this.terms.get(n)?.text ?? '';
  }

  async run(transcript: Transcript): Promise<void> {
    const deadline = Date.now() + (this.opts.totalTimeoutMs ?? 10 * 60_000);
    await this.openTerminal(1);
    for (const item of transcript.items) {
      if (this.sandbox.state === 'dead') throw new TranscriptError(`the sandbox died at line ${item.line} of ${transcript.file}`);
      if (Date.now() > deadline) {
        throw new TranscriptError(`gave up at line ${item.line} of ${transcript.file}: the transcript ran longer than ${Math.round((this.opts.totalTimeoutMs ?? 600_000) / 1000)} s`);
      }
      switch (item.kind) {
        case 'term':
          this.current = item.terminal;
          await this.openTerminal(item.terminal);
          break;
        case 'sleep':
          await sleep(item.ms);
          break;
        case 'ctrl':
        case 'type': {
          const t0 = Date.now();
          // a raw Tab would trigger completion; Ctrl-V (readline's quoted-insert, the
          // tty's LNEXT) makes it a literal tab, as in a heredoc'd Makefile
          const how = item.kind === 'ctrl'
            ? await this.send(ctrlByte(item.char), null)
            : await this.send(`${item.text.replace(/\t/g, '\x16\t')}\r`, item.text);
          this.opts.onLine?.(item.line, item.kind === 'ctrl' ? `#!ctrl ${item.char}` : item.text, Date.now() - t0, how);
          break;
        }
      }
    }
    // let late output and the last command's evaluation land before the caller reads results
    await sleep(200);
    await this.opts.engine?.idle();
  }

  close(): void {
    for (const t of this.terms.values()) {
      if (!t.exited) {
        try { t.pty.kill('SIGTERM'); } catch { /* already gone */ } // nslab-reaper follows up with SIGKILL
      }
    }
    this.terms.clear();
  }

  /** Open terminal n (again, if its shell exited) and wait for its first prompt. */
  private async openTerminal(n: number): Promise<Term> {
    const existing = this.terms.get(n);
    if (existing && !existing.exited) return existing;
    const ready = this.waitForEvent(n, this.opts.startTimeoutMs ?? 20_000, (e) => e.kind === 'ready');
    const pty = this.sandbox.spawnPty({ terminal: n, cols: this.opts.cols ?? 120, rows: this.opts.rows ?? 40 });
    const term: Term = { n, pty, text: existing?.text ?? '', lastOutput: Date.now(), chunks: 0, exited: false, owed: [], heredoc: false };
    pty.onData((d) => {
      term.text = (term.text + plainText(d)).slice(-KEEP_TEXT);
      term.lastOutput = Date.now();
      term.chunks++;
    });
    pty.onExit(() => { term.exited = true; });
    this.terms.set(n, term);
    if (!(await ready.promise)) {
      throw new TranscriptError(`terminal ${n} showed no prompt within ${(this.opts.startTimeoutMs ?? 20_000) / 1000} s (is the image's bash hook installed?)`);
    }
    await this.opts.engine?.idle();
    return term;
  }

  private waitForEvent(n: number, timeoutMs: number, match: (e: CommandEvent) => boolean): { promise: Promise<boolean>; cancel: () => void } {
    let done!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => { done = r; });
    const off = this.sandbox.onCommand((e) => { if (e.terminal === n && match(e)) finish(true); });
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => { clearTimeout(timer); off(); done(ok); };
    return { promise, cancel: () => finish(false) };
  }

  /** whether a process of the sandbox is on a CPU or in uninterruptible sleep (disk I/O) right now */
  private async working(): Promise<boolean> {
    try {
      return (await this.sandbox.probe.processes()).some((p) => p.state === 'R' || p.state === 'D');
    } catch {
      return false; // the sandbox is going away: the exit or the line timeout decides
    }
  }

  /**
   * Type into the current terminal and wait until it is ready for more. `line` is the
   * typed text (null for a control key, which usually ends whatever was running, so
   * any event completes it and nothing is owed any more).
   */
  private async send(data: string, line: string | null): Promise<LineEnd> {
    const term = await this.openTerminal(this.current);
    const inHeredoc = line !== null && (term.heredoc || opensHeredoc(line));
    const quietMs = inHeredoc ? Infinity : this.opts.quietMs ?? 1500;
    const started = Date.now();
    if (line === null) term.owed = [];
    const typed = line?.trim() ?? null;
    const event = this.waitForEvent(term.n, this.opts.lineTimeoutMs ?? 60_000, (e) => {
      if (e.kind !== 'cmd' || typed === null) return true;
      const finished = lastLine(e.command);
      // this line's own event (also when it is the last line of a heredoc or a
      // multi-line command): take it even if an earlier line had the same text
      if (finished === typed) {
        const i = term.owed.indexOf(typed);
        if (i >= 0) term.owed.splice(i, 1);
        return true;
      }
      const i = term.owed.indexOf(finished);
      if (i < 0) return true; // e.g. `exit` reports the command that started the shell it left
      term.owed.splice(i, 1); // a late event of an earlier line: keep waiting for ours
      return false;
    });
    term.lastOutput = started;
    const chunksBefore = term.chunks;
    term.pty.write(data);
    let stop = false;
    let idleFrom: { at: number; cpuUs: number } | null = null;
    /** silent, the sandbox's CPU time grew by less than BUSY_SHARE over the last window, and nothing in it runs or waits for a disk */
    const idle = async (): Promise<boolean> => {
      const cpuUs = this.sandbox.cpuTime?.() ?? null;
      if (cpuUs === null) return true;
      const now = Date.now();
      if (!idleFrom) { idleFrom = { at: now, cpuUs }; return false; }
      if (now - idleFrom.at < IDLE_WINDOW_MS) return false;
      const busy = (cpuUs - idleFrom.cpuUs) / 1000 > (now - idleFrom.at) * BUSY_SHARE;
      idleFrom = { at: Date.now(), cpuUs };
      return !busy && !(await this.working());
    };
    // poll the cheap conditions; the event resolves the wait as soon as it arrives
    const how = await Promise.race<LineEnd>([
      event.promise.then((ok) => (ok ? 'prompt' : 'timeout')),
      (async (): Promise<LineEnd> => {
        while (!stop) {
          await sleep(POLL_MS);
          const quiet = Date.now() - term.lastOutput;
          if (term.exited) return 'exited';
          if (quiet >= CONTINUATION_QUIET_MS && term.chunks > chunksBefore && CONTINUATION.test(term.text)) return 'continuation';
          if (quiet >= quietMs) { if (await idle()) return 'quiet'; } else idleFrom = null;
          if (Date.now() - started >= (this.opts.lineTimeoutMs ?? 60_000)) return 'timeout';
        }
        return 'timeout';
      })(),
    ]);
    stop = true;
    event.cancel();
    // a finished command (or a control key, or the shell gone) ends any heredoc
    term.heredoc = inHeredoc && how !== 'prompt' && how !== 'exited';
    if ((how === 'quiet' || how === 'timeout') && typed) {
      term.owed.push(typed);
      if (term.owed.length > MAX_OWED) term.owed.shift();
    }
    // after a command event the engine is already evaluating; wait so the next line
    // cannot change the state before this command's effect was seen
    if (how === 'prompt') await this.opts.engine?.idle();
    return how;
  }
}
