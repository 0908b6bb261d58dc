/**
 * Terminal building blocks: UTF-8 cutting, the scrollback ring, ACK/watermark flow
 * control, and a TerminalSession on a real host pty (node-pty running sh), which is
 * what the sandbox hands us too.
 */
import * as pty from 'node-pty';
import { describe, expect, it } from 'vitest';
import { FlowControl, Pauser } from '../../lab-server/terminal/flow.ts';
import { ScrollbackRing, stripAnsi } from '../../lab-server/terminal/scrollback.ts';
import { checkSize, MAX_QUEUED_INPUT, queuedInput, SizeError, TerminalSession } from '../../lab-server/terminal/terminal.ts';
import { safeCut, splitUtf8 } from '../../lab-server/terminal/utf8.ts';
import { shellNamespaces } from '../../lab-server/terminal/shell-namespaces.ts';
import { clientMessageSchema, decodeTerminalFrame, encodeTerminalFrame } from '../../lab-server/contract/session-protocol.ts';

const valid = (b: Buffer) => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

describe('utf8 cutting', () => {
  it('never cuts a multibyte character, whatever the frame size', () => {
    const text = Buffer.from('안녕하세요 世界 🎉 naïve '.repeat(50), 'utf8');
    for (let max = 4; max < 40; max++) {
      const parts = splitUtf8(text, max);
      expect(Buffer.concat(parts).equals(text)).toBe(true);
      for (const p of parts) {
        expect(p.length).toBeLessThanOrEqual(max);
        expect(valid(p)).toBe(true);
      }
    }
  });
  it('cuts invalid bytes at the limit instead of looping', () => {
    const junk = Buffer.alloc(100, 0x80);
    expect(safeCut(junk, 10)).toBe(10);
    expect(Buffer.concat(splitUtf8(junk, 7)).equals(junk)).toBe(true);
  });
});

describe('scrollback ring', () => {
  it('keeps the newest bytes up to its size, starting on a character boundary', () => {
    const ring = new ScrollbackRing(100);
    for (let i = 0; i < 50; i++) ring.push(Buffer.from(`${i}:한글 `, 'utf8'));
    expect(ring.size).toBeLessThanOrEqual(100);
    expect(ring.truncated).toBe(true);
    const snap = ring.snapshot();
    expect(valid(snap)).toBe(true);
    expect(snap.toString('utf8').endsWith('49:한글 ')).toBe(true);
  });
  it('a chunk larger than the ring keeps its tail', () => {
    const ring = new ScrollbackRing(10);
    ring.push(Buffer.from('가나다라마바사아자차', 'utf8')); // 30 bytes
    expect(ring.snapshot().toString('utf8')).toBe('아자차');
    expect(ring.size).toBe(9);
  });
  it('is not truncated until it overflows', () => {
    const ring = new ScrollbackRing(10);
    ring.push(Buffer.from('12345'));
    ring.push(Buffer.from('67890'));
    expect(ring.truncated).toBe(false);
    expect(ring.snapshot().toString()).toBe('1234567890');
    ring.push(Buffer.from('x'));
    expect(ring.snapshot().toString()).toBe('234567890x');
  });
  it('rejects a nonsense size', () => {
    expect(() => new ScrollbackRing(0)).toThrow(/positive/);
  });
  it('stripAnsi leaves the text', () => {
    expect(stripAnsi('\x1b[?2004h\x1b[1;32mroot@nslab\x1b[0m:~# ls\r\n\x1b]0;title\x07a b\r\n')).toBe('root@nslab:~# ls\na b\n');
  });
});

describe('flow control', () => {
  it('blocks above the high watermark and unblocks below the low one', () => {
    const changes: boolean[] = [];
    const f = new FlowControl({ highWater: 100, lowWater: 20 }, (b) => changes.push(b));
    f.sent(60);
    f.sent(40);
    expect(f.isBlocked).toBe(false); // exactly at high is fine
    f.sent(1);
    expect(changes).toEqual([true]);
    f.ack(50);
    expect(f.isBlocked).toBe(true); // 51 left, above low
    f.ack(40);
    expect(changes).toEqual([true, false]);
    expect(f.unacked).toBe(11);
  });
  it('over-acking cannot buy credit', () => {
    const f = new FlowControl({ highWater: 100, lowWater: 20 }, () => {});
    f.ack(1_000_000);
    f.sent(101);
    expect(f.isBlocked).toBe(true);
  });
  it('reset unblocks', () => {
    const changes: boolean[] = [];
    const f = new FlowControl({ highWater: 10, lowWater: 5 }, (b) => changes.push(b));
    f.sent(11);
    f.reset();
    expect(changes).toEqual([true, false]);
    expect(f.unacked).toBe(0);
  });
  it('refuses watermarks in the wrong order', () => {
    expect(() => new FlowControl({ highWater: 10, lowWater: 10 }, () => {})).toThrow(/lowWater < highWater/);
  });
  it('pauser pauses once for several reasons and resumes when none is left', () => {
    const calls: string[] = [];
    const p = new Pauser(() => calls.push('pause'), () => calls.push('resume'));
    p.set('flow', true);
    p.set('detached', true);
    p.set('flow', false);
    expect(calls).toEqual(['pause']);
    p.set('detached', false);
    expect(calls).toEqual(['pause', 'resume']);
  });
});

describe('protocol', () => {
  it('frames terminal bytes with a one-byte terminal number', () => {
    const f = encodeTerminalFrame(2, new TextEncoder().encode('hi'));
    expect([...f]).toEqual([2, 104, 105]);
    expect(decodeTerminalFrame(f)?.terminal).toBe(2);
    expect(decodeTerminalFrame(new Uint8Array([0, 1]))).toBeNull();
    expect(decodeTerminalFrame(new Uint8Array([])) ).toBeNull();
  });
  it('validates control messages', () => {
    expect(clientMessageSchema.safeParse({ type: 'resize', terminal: 1, cols: 80, rows: 24 }).success).toBe(true);
    expect(clientMessageSchema.safeParse({ type: 'resize', terminal: 1, cols: 100000, rows: 24 }).success).toBe(false);
    expect(clientMessageSchema.safeParse({ type: 'ack', terminal: 9, bytes: 1 }).success).toBe(false);
    expect(clientMessageSchema.safeParse({ type: 'nope' }).success).toBe(false);
    expect(checkSize(80, 24)).toBeNull();
    expect(checkSize(0, 24)).toMatch(/cols/);
    expect(checkSize(80, 1e9)).toMatch(/rows/);
    expect(checkSize(80.5, 24)).toMatch(/cols/);
  });
});

/** a TerminalSession on a real host pty */
function hostTerminal(script: string, opts: Partial<ConstructorParameters<typeof TerminalSession>[1]> = {}) {
  const p = pty.spawn('/bin/sh', ['-c', script], { cols: 80, rows: 24, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
  return new TerminalSession(p, { terminal: 1, cols: 80, rows: 24, ...opts });
}
const until = async (f: () => boolean, what: string) => {
  for (let i = 0; i < 2000 && !f(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!f()) throw new Error(`never happened: ${what}`);
};

describe('TerminalSession on a real pty', () => {
  it('pauses a flood at the high watermark and resumes on acks', async () => {
    const t = hostTerminal('yes', { flow: { highWater: 64 * 1024, lowWater: 16 * 1024 }, maxFrameBytes: 16 * 1024 });
    let got = 0;
    t.attach({ data: (_n, c) => { got += c.length; } }, () => {});
    await until(() => t.paused, 'paused by flow control');
    await new Promise((r) => setTimeout(r, 100));
    const frozen = got;
    await new Promise((r) => setTimeout(r, 100));
    // paused: at most what was already read from the pty arrives afterwards
    expect(got - frozen).toBeLessThanOrEqual(64 * 1024);
    expect(t.unacked).toBeLessThanOrEqual(64 * 1024 + 16 * 1024 + 64 * 1024);
    t.ack(t.unacked);
    await until(() => got > frozen + 64 * 1024, 'output resumes after ack');
    t.kill();
  });

  it('coalesces small writes and frames never exceed maxFrameBytes or split characters', async () => {
    const t = hostTerminal('i=0; while [ $i -lt 3000 ]; do printf "한글%d " $i; i=$((i+1)); done; echo; echo DONE; sleep 5', { maxFrameBytes: 1000 });
    // (sleep: node-pty can drop the last output of a process that exits at once)
    const frames: Buffer[] = [];
    t.attach({ data: (_n, c) => { frames.push(c); t.ack(c.length); } }, () => {});
    await until(() => Buffer.concat(frames).toString('utf8').includes('DONE'), 'all output');
    for (const f of frames) { expect(f.length).toBeLessThanOrEqual(1000); expect(valid(f)).toBe(true); }
    // 3000 printf calls arrive as far fewer frames than writes
    expect(frames.length).toBeLessThan(3000);
    expect(Buffer.concat(frames).toString('utf8')).toContain('한글2999');
    t.kill();
  });

  it('replays the scrollback on reattach, and pauses a detached flood once the ring is overwritten', async () => {
    const t = hostTerminal('echo first; read x; yes', { scrollbackBytes: 4096 });
    const seen: string[] = [];
    t.attach({ data: (_n, c) => seen.push(c.toString()) }, () => {});
    await until(() => seen.join('').includes('first'), 'first output');
    t.detach();
    t.write('go\r');
    await until(() => t.paused, 'detached flood paused');
    let replayed: Buffer = Buffer.alloc(0);
    let truncated = false;
    t.attach({ data: () => {} }, (data, tr) => { replayed = data; truncated = tr; });
    expect(t.paused).toBe(false);
    expect(truncated).toBe(true);
    expect(replayed.length).toBeLessThanOrEqual(4096);
    expect(replayed.toString()).toMatch(/(y\r\n)+/);
    t.kill();
  });

  it('keeps a character split across two input frames intact', async () => {
    const t = hostTerminal('read line; echo "got:$line"; sleep 5'); // (sleep: node-pty can drop output of a process that exits at once)
    let out = '';
    t.attach({ data: (_n, c) => { out += c.toString(); t.ack(c.length); } }, () => {});
    const bytes = Buffer.from('세계\r', 'utf8');
    t.input(bytes.subarray(0, 4)); // cuts '계' in the middle
    t.input(bytes.subarray(4));
    await until(() => out.includes('got:'), 'echo');
    await until(() => /got:세계/.test(out), 'intact characters');
    t.kill();
  });

  it('bounds input queued for a program that does not read it', async () => {
    const t = hostTerminal('sleep 30');
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (t.input(chunk)) accepted++;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(100);
    expect(queuedInput(t.pty)).toBeLessThanOrEqual(MAX_QUEUED_INPUT + chunk.length);
    t.kill();
  });

  it('drops input a program leaves unread for seconds, so node-pty stops retrying it', async () => {
    let dropped = 0;
    // raw mode: the kernel stops taking input at its 4 KiB buffer (in canonical mode it
    // swallows and discards the excess, so nothing stays queued)
    const t = hostTerminal('stty raw -echo; sleep 30', { onInputDropped: (n) => { dropped = n; } });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 4; i++) t.input(Buffer.alloc(64 * 1024, 0x61));
    expect(queuedInput(t.pty)).toBeGreaterThan(0);
    await until(() => dropped > 0, 'the unread input to be dropped');
    expect(queuedInput(t.pty)).toBe(0);
    // and the server is idle again: no retry loop left
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 500));
    const c = process.cpuUsage(c0);
    expect((c.user + c.system) / 1000).toBeLessThan(200);
    t.kill();
  });

  it('rejects absurd sizes and applies good ones', () => {
    const t = hostTerminal('sleep 5');
    expect(() => t.resize(0, 24)).toThrow(SizeError);
    expect(() => t.resize(80, 100000)).toThrow(/rows/);
    t.resize(120, 40);
    expect([t.cols, t.rows, t.pty.cols, t.pty.rows]).toEqual([120, 40, 120, 40]);
    t.kill();
  });

  it('reports the exit', async () => {
    const t = hostTerminal('exit 3');
    const e = await new Promise<{ exitCode: number }>((r) => t.onExit(r));
    expect(e.exitCode).toBe(3);
    expect(t.exited).toBe(true);
  });
});

describe('shellNamespaces (the terminal tab\'s label)', () => {
  const root = { cgroup: 1, ipc: 2, mnt: 3, net: 4, pid: 5, pid_for_children: 5, time: 6, user: 7, uts: 8 };
  it('names the kinds the shell has of its own, in a fixed order; pid_for_children alone is not one', () => {
    expect(shellNamespaces({ ...root }, root)).toEqual([]);
    expect(shellNamespaces({ ...root, uts: 80, ipc: 20 }, root)).toEqual(['ipc', 'uts']);
    expect(shellNamespaces({ ...root, pid_for_children: 50 }, root)).toEqual([]);
    // a shell that could not fork reports no namespaces: unknown, not "the sandbox's"
    expect(shellNamespaces({}, root)).toBeNull();
  });
});
