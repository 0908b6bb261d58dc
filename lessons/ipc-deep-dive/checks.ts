/**
 * Checks for ipc-deep-dive. Every step except `nsenter-debug` looks at real state
 * through the probe: the System V tables and the mqueue filesystem of each IPC
 * namespace, IPC sysctls as a process sees them, a process's mounts and files.
 * `nsenter-debug` changes nothing, so the command log is its evidence (plus the
 * probe, to learn which namespace the nsenter target was in).
 */
import { defineChecks, fail, pass, pending, type Lab, type Localized, type ProcessInfo, type SysvIpc } from '../../lab-server/checks/api.ts';

/** the fixed key of the lesson's keydemo.c ("NSLB") */
const KEY = 0x4e534c42;
const keyHex = (k: number) => '0x' + (k >>> 0).toString(16).padStart(8, '0');
/** the POSIX shared memory object pshm.c makes (/dev/shm/nslab-note) */
const SHM_NAME = 'nslab-note';
const MIB = 1024 * 1024;

/** What a brand-new IPC namespace starts with (the kernel's defaults, not the parent's values). */
const IPC_SYSCTL_DEFAULTS: Record<string, string> = {
  'kernel.msgmni': '32000',
  'kernel.msgmax': '8192',
  'kernel.msgmnb': '16384',
  'kernel.shmmni': '4096',
  'kernel.shmmax': '18446744073692774399',
  'kernel.shmall': '18446744073692774399',
  'kernel.sem': '32000 1024000000 500 32000',
  'kernel.shm_rmid_forced': '0',
  'fs.mqueue.queues_max': '256',
  'fs.mqueue.msg_max': '10',
  'fs.mqueue.msgsize_max': '8192',
};
const norm = (s: string) => s.trim().split(/\s+/).join(' ');

interface Ctx {
  root: Awaited<ReturnType<Lab['rootNamespaces']>>;
  procs: ProcessInfo[];
  init: ProcessInfo;
}

async function ctx(lab: Lab): Promise<Ctx> {
  const [root, procs] = await Promise.all([lab.rootNamespaces(), lab.processes()]);
  const init = procs.find((p) => p.pid === 1);
  if (!init) throw new Error('the sandbox has no PID 1');
  return { root, procs, init };
}

/** one live process per namespace of `kind` that is not the sandbox's own */
function childNamespaces(c: Ctx, kind: 'ipc' | 'mnt'): Map<number, ProcessInfo> {
  const out = new Map<number, ProcessInfo>();
  for (const p of c.procs) {
    if (p.state === 'Z' || p.ns[kind] === c.root[kind]) continue;
    if (!out.has(p.ns[kind])) out.set(p.ns[kind], p);
  }
  return out;
}

async function ipcOf(lab: Lab, p: ProcessInfo): Promise<SysvIpc | null> {
  return lab.ipc(p.hostPid).catch(() => null);
}

const count = (s: SysvIpc) => s.queues.length + s.shm.length + s.sems.length;

function missingKinds(s: SysvIpc): { en: string[]; ko: string[]; zh: string[] } {
  const out = { en: [] as string[], ko: [] as string[], zh: [] as string[] };
  if (!s.shm.length) { out.en.push('a shared memory segment (`ipcmk -M 4096`)'); out.ko.push('공유 메모리 세그먼트(`ipcmk -M 4096`)'); out.zh.push('共享内存段（`ipcmk -M 4096`）'); }
  if (!s.sems.length) { out.en.push('a semaphore set (`ipcmk -S 2`)'); out.ko.push('세마포어 집합(`ipcmk -S 2`)'); out.zh.push('信号量集（`ipcmk -S 2`）'); }
  if (!s.queues.length) { out.en.push('a message queue (`ipcmk -Q`)'); out.ko.push('메시지 큐(`ipcmk -Q`)'); out.zh.push('消息队列（`ipcmk -Q`）'); }
  return out;
}

const NO_CHILD: Localized = {
  en: 'No process is in a new IPC namespace yet: run `unshare --ipc --mount bash` in terminal 1 and stay in that shell.',
  ko: '아직 새 IPC 네임스페이스에 있는 프로세스가 없습니다. 터미널 1에서 `unshare --ipc --mount bash`를 실행하고 그 셸에 머무르세요.',
  zh: '还没有进程处于新的 IPC 命名空间中：在终端 1 运行 `unshare --ipc --mount bash` 并留在那个 shell 里。',
};

/** names of files in /dev/shm the learner mentioned, plus the lesson's own */
function shmCandidates(lab: Lab): string[] {
  const names = new Set<string>([SHM_NAME]);
  for (const e of lab.commands()) {
    for (const m of e.command.matchAll(/\/dev\/shm\/([A-Za-z0-9._-]+)/g)) names.add(m[1]);
  }
  return [...names].slice(0, 20);
}

function tmpfsSize(opts: string[]): number | null {
  for (const o of opts) {
    const m = /^size=(\d+)([kmgKMG]?)$/.exec(o);
    if (m) {
      const mult = { '': 1, k: 1024, m: MIB, g: 1024 * MIB }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
      return Number(m[1]) * mult;
    }
  }
  return null;
}

/**
 * The pid an nsenter command targets, as a sandbox pid: `-t 42`, `--target=42`,
 * `--ipc=/proc/42/ns/ipc`, `$(cat FILE)`, or `$VAR` assigned earlier in the same shell.
 * undefined: not an nsenter into an IPC namespace; null: a target we cannot resolve.
 */
async function nsenterTarget(lab: Lab, c: Ctx, index: number): Promise<number | null | undefined> {
  const log = lab.commands();
  const e = log[index];
  const cmd = e.command;
  if (!/\bnsenter\b/.test(cmd) || !/\bipcs\b/.test(cmd)) return undefined;
  const m = /--ipc=\/proc\/(.+?)\/ns\/ipc/.exec(cmd) ?? /(?:^|\s)(?:-t|--target)(?:=|\s*)(\S+)/.exec(cmd);
  const joinsIpc = /(?:^|\s)(--ipc\b|--all\b|-[a-zA-Z]*[ia][a-zA-Z]*(?=\s|$))/.test(cmd.split(/\bipcs\b/)[0]);
  if (!m || !joinsIpc) return undefined;
  const resolve = async (tok: string, depth: number): Promise<number | null> => {
    tok = tok.replace(/^["']|["']$/g, '');
    if (/^\d+$/.test(tok)) return Number(tok);
    const file = /^\$\((?:cat\s+|<\s*)(\S+?)\)$/.exec(tok) ?? /^`cat\s+(\S+?)`$/.exec(tok);
    if (file) {
      const text = await lab.readFile(c.init.hostPid, file[1]).catch(() => null);
      return text && /^\s*\d+\s*$/.test(text) ? Number(text) : null;
    }
    const v = /^\$\{?([A-Za-z_]\w*)\}?$/.exec(tok);
    if (v && depth < 2) {
      for (let i = index - 1; i >= 0; i--) {
        const prev = log[i];
        if (prev.terminal !== e.terminal || prev.pid !== e.pid) continue;
        const a = new RegExp(`(?:^|[;&\\s])(?:export\\s+)?${v[1]}=(\\S+)`).exec(prev.command);
        if (a) return resolve(a[1].replace(/;$/, ''), depth + 1);
      }
    }
    return null;
  };
  return resolve(m[1], 0);
}

export default defineChecks({
  'sysv-trio': async (lab) => {
    const c = await ctx(lab);
    const children = childNamespaces(c, 'ipc');
    let best: SysvIpc | null = null;
    for (const p of children.values()) {
      const s = await ipcOf(lab, p);
      if (!s) continue;
      if (s.queues.length && s.shm.length && s.sems.length) return pass();
      if (!best || count(s) > count(best)) best = s;
    }
    if (best && count(best)) {
      const m = missingKinds(best);
      return pending({
        en: `Your new IPC namespace still lacks ${m.en.join(' and ')}. Make it in the same shell.`,
        ko: `새 IPC 네임스페이스에 아직 다음이 없습니다: ${m.ko.join(', ')}. 같은 셸에서 만드세요.`,
        zh: `你的新 IPC 命名空间里还缺少${m.zh.join('和')}。请在同一个 shell 中创建。`,
      });
    }
    const rootIpc = await ipcOf(lab, c.init);
    if (rootIpc && count(rootIpc)) {
      return fail({
        en: 'The objects you made are in the sandbox\'s own IPC namespace (they were created before `unshare`, or in terminal 2). Start `unshare --ipc --mount bash` first and run the three `ipcmk` commands inside it.',
        ko: '만든 객체가 샌드박스 자체의 IPC 네임스페이스에 있습니다(`unshare` 전에, 또는 터미널 2에서 만들었습니다). 먼저 `unshare --ipc --mount bash`를 시작하고 그 안에서 `ipcmk` 명령 세 개를 실행하세요.',
        zh: '你创建的对象位于沙箱自身的 IPC 命名空间（在 `unshare` 之前或在终端 2 中创建的）。请先启动 `unshare --ipc --mount bash`，再在其中运行三条 `ipcmk` 命令。',
      });
    }
    if (children.size) {
      return pending({
        en: 'You are in a new IPC namespace and it is empty: make a segment, a semaphore set and a queue there (`ipcmk -M 4096`, `ipcmk -S 2`, `ipcmk -Q`).',
        ko: '새 IPC 네임스페이스에 들어왔지만 비어 있습니다. 그 안에서 공유 메모리 세그먼트, 세마포어 집합, 메시지 큐를 만드세요(`ipcmk -M 4096`, `ipcmk -S 2`, `ipcmk -Q`).',
        zh: '新的 IPC 命名空间还是空的：在其中创建共享内存段、信号量集和消息队列（`ipcmk -M 4096`、`ipcmk -S 2`、`ipcmk -Q`）。',
      });
    }
    return pending(NO_CHILD);
  },

  'same-key': async (lab) => {
    const c = await ctx(lab);
    const spaces = [c.init, ...childNamespaces(c, 'ipc').values()];
    const seen = new Map<string, Set<number>>();
    for (const p of spaces) {
      const s = await ipcOf(lab, p);
      if (!s) continue;
      const add = (kind: string, key: number) => {
        if (key === 0) return;
        const k = `${kind}:${key}`;
        if (!seen.has(k)) seen.set(k, new Set());
        seen.get(k)!.add(p.ns.ipc);
      };
      s.shm.forEach((o) => add('shm', o.key));
      s.queues.forEach((o) => add('msg', o.key));
      s.sems.forEach((o) => add('sem', o.key));
    }
    for (const spacesWithKey of seen.values()) if (spacesWithKey.size >= 2) return pass();
    const mine = seen.get(`shm:${KEY}`);
    if (mine) {
      const inRoot = mine.has(c.root.ipc);
      return pending({
        en: `Key ${keyHex(KEY)} names a segment in only one IPC namespace (${inRoot ? 'the sandbox\'s own' : 'your new one'}). Run \`/root/keydemo\` in the other one too (${inRoot ? 'in the shell started with `unshare --ipc`' : 'in terminal 2'}) while this shell is still alive.`,
        ko: `키 ${keyHex(KEY)}가 한 IPC 네임스페이스(${inRoot ? '샌드박스 자체의 것' : '새로 만든 것'})에서만 세그먼트를 가리킵니다. 이 셸이 살아 있는 동안 다른 쪽(${inRoot ? '`unshare --ipc`로 시작한 셸' : '터미널 2'})에서도 \`/root/keydemo\`를 실행하세요.`,
        zh: `键 ${keyHex(KEY)} 只在一个 IPC 命名空间（${inRoot ? '沙箱自身的' : '你新建的'}）中对应一个段。请在这个 shell 仍然存活时，在另一个命名空间（${inRoot ? '用 `unshare --ipc` 启动的 shell' : '终端 2'}）中也运行 \`/root/keydemo\`。`,
      });
    }
    return pending({
      en: `Compile keydemo.c and run it in two IPC namespaces at the same time (terminal 1 inside \`unshare --ipc\`, terminal 2 outside): the key ${keyHex(KEY)} must exist in both.`,
      ko: `keydemo.c를 컴파일해 두 IPC 네임스페이스에서 동시에 실행하세요(터미널 1은 \`unshare --ipc\` 안, 터미널 2는 밖). 키 ${keyHex(KEY)}가 양쪽에 있어야 합니다.`,
      zh: `编译 keydemo.c，并同时在两个 IPC 命名空间中运行它（终端 1 在 \`unshare --ipc\` 里，终端 2 在外面）：键 ${keyHex(KEY)} 必须在两边都存在。`,
    });
  },

  'posix-mqueue': async (lab) => {
    const c = await ctx(lab);
    const rootQueues = await lab.mqueue(c.init.hostPid).catch(() => []);
    const rootNames = new Set(rootQueues.map((q) => q.name));
    let leaked: string | null = null;
    for (const p of childNamespaces(c, 'ipc').values()) {
      const qs = await lab.mqueue(p.hostPid).catch(() => null);
      for (const q of qs ?? []) {
        if (rootNames.has(q.name)) continue;
        // the sandbox's own /dev/mqueue (what PID 1 sees there) must not show it either
        const visible = await lab.readFile(c.init.hostPid, `/dev/mqueue/${q.name}`).catch(() => null);
        if (visible !== null) { leaked = q.name; continue; }
        return pass();
      }
    }
    if (leaked) {
      return fail({
        en: `The queue /${leaked} is in a child IPC namespace, but the sandbox's /dev/mqueue shows it: you mounted the child's mqueue filesystem on the /dev/mqueue every shell shares. An mqueue mount shows the queues of the IPC namespace that mounted it, so mount it in a new mount namespace: \`umount /dev/mqueue\`, then \`unshare --ipc --mount bash\` and mount it there.`,
        ko: `큐 /${leaked}은(는) 자식 IPC 네임스페이스에 있지만 샌드박스의 /dev/mqueue에도 보입니다. 모든 셸이 공유하는 /dev/mqueue에 자식의 mqueue 파일시스템을 마운트했기 때문입니다. mqueue 마운트에는 마운트한 프로세스가 속한 IPC 네임스페이스의 큐가 보이므로, 새 마운트 네임스페이스에서 마운트하세요. \`umount /dev/mqueue\`를 실행한 뒤 \`unshare --ipc --mount bash\`로 시작한 셸 안에서 마운트하면 됩니다.`,
        zh: `队列 /${leaked} 在子 IPC 命名空间中，但沙箱的 /dev/mqueue 也显示了它：你把子命名空间的 mqueue 文件系统挂载到了所有 shell 共享的 /dev/mqueue 上。mqueue 挂载显示的是执行挂载的进程所在 IPC 命名空间的队列，所以要在新的挂载命名空间中挂载：先 \`umount /dev/mqueue\`，再在 \`unshare --ipc --mount bash\` 里挂载。`,
      });
    }
    if (rootQueues.length) {
      return fail({
        en: `The queue${rootQueues.length > 1 ? 's' : ''} ${rootQueues.map((q) => '/' + q.name).join(', ')} belong${rootQueues.length > 1 ? '' : 's'} to the sandbox's own IPC namespace. Run \`/root/mqdemo\` in the shell you started with \`unshare --ipc --mount\`.`,
        ko: `큐 ${rootQueues.map((q) => '/' + q.name).join(', ')}은(는) 샌드박스 자체의 IPC 네임스페이스에 속합니다. \`unshare --ipc --mount\`로 시작한 셸에서 \`/root/mqdemo\`를 실행하세요.`,
        zh: `队列 ${rootQueues.map((q) => '/' + q.name).join(', ')} 属于沙箱自身的 IPC 命名空间。请在用 \`unshare --ipc --mount\` 启动的 shell 中运行 \`/root/mqdemo\`。`,
      });
    }
    return pending({
      en: 'No POSIX message queue exists in a child IPC namespace yet: compile mqdemo.c (`-lrt`) and run it in the `unshare --ipc --mount` shell.',
      ko: '자식 IPC 네임스페이스에 아직 POSIX 메시지 큐가 없습니다. mqdemo.c를 `-lrt`를 붙여 컴파일하고 `unshare --ipc --mount` 셸에서 실행하세요.',
      zh: '子 IPC 命名空间中还没有 POSIX 消息队列：编译 mqdemo.c（`-lrt`）并在 `unshare --ipc --mount` 的 shell 中运行它。',
    });
  },

  'private-shm': async (lab) => {
    const c = await ctx(lab);
    const names = shmCandidates(lab);
    const inRoot = new Map<string, string | null>();
    for (const n of names) inRoot.set(n, await lab.readFile(c.init.hostPid, `/dev/shm/${n}`).catch(() => null));
    let tooBig: number | null | undefined;
    let emptyPrivate = false;
    let sharedFile: string | null = null;
    // a tmpfs mounted over the copied /dev/shm shows up as one more /dev/shm entry
    const rootShmMounts = (await lab.mounts(c.init.hostPid).catch(() => [])).filter((m) => m.mountPoint === '/dev/shm').length;
    for (const p of childNamespaces(c, 'mnt').values()) {
      const mounts = (await lab.mounts(p.hostPid).catch(() => [])).filter((m) => m.mountPoint === '/dev/shm');
      const shm = mounts[mounts.length - 1];
      if (!shm || shm.fsType !== 'tmpfs') continue;
      const size = tmpfsSize([...shm.superOptions, ...shm.options]);
      let privateFile = false;
      let sharedHere = false;
      for (const n of names) {
        const here = await lab.readFile(p.hostPid, `/dev/shm/${n}`).catch(() => null);
        if (here === null) continue;
        const there = inRoot.get(n) ?? null;
        if (there === null || there !== here) privateFile = true;
        else { sharedFile = n; sharedHere = true; }
      }
      if (!privateFile) {
        if (!sharedHere && mounts.length > rootShmMounts && size !== null && size <= 64 * MIB) emptyPrivate = true;
        continue;
      }
      if (size === null || size > 64 * MIB) { tooBig = size; continue; }
      return pass();
    }
    if (tooBig !== undefined) {
      const what = tooBig === null ? 'no size (so up to half of the memory)' : `size ${Math.round(tooBig / MIB)} MiB`;
      return fail({
        en: `Your private /dev/shm is a tmpfs with ${what}. Give it at most 64 MiB, like Docker's default \`--shm-size=64m\`: \`umount /dev/shm\`, then \`mount -t tmpfs -o size=16m shm /dev/shm\` in the same shell, and write the file again.`,
        ko: `새로 마운트한 /dev/shm이 ${tooBig === null ? '크기를 지정하지 않은(메모리의 절반까지 쓸 수 있는)' : `크기가 ${Math.round(tooBig / MIB)} MiB인`} tmpfs입니다. Docker 기본값 \`--shm-size=64m\`처럼 64 MiB 이하로 하세요. 같은 셸에서 \`umount /dev/shm\`을 실행하고 \`mount -t tmpfs -o size=16m shm /dev/shm\`으로 다시 마운트한 뒤 파일을 다시 쓰세요.`,
        zh: `你的私有 /dev/shm 是一个${tooBig === null ? '没有指定大小（最多可用一半内存）' : `大小为 ${Math.round(tooBig / MIB)} MiB `}的 tmpfs。像 Docker 默认的 \`--shm-size=64m\` 那样让它不超过 64 MiB：在同一个 shell 中 \`umount /dev/shm\`，再 \`mount -t tmpfs -o size=16m shm /dev/shm\`，然后重新写入文件。`,
      });
    }
    const rootHas = [...inRoot.entries()].find(([, v]) => v !== null)?.[0];
    if (emptyPrivate && rootHas) {
      return fail({
        en: `Your new mount namespace has its own small /dev/shm, but /dev/shm/${rootHas} was written into the sandbox's /dev/shm (from a shell outside it). Write the file from the shell that mounted the new tmpfs: \`/root/pshm "hello"\` there.`,
        ko: `새 마운트 네임스페이스에는 자기만의 작은 /dev/shm이 있지만, /dev/shm/${rootHas} 파일은 (그 바깥의 셸에서) 샌드박스의 /dev/shm에 쓰였습니다. 새 tmpfs를 마운트한 셸에서 파일을 쓰세요. 그 셸에서 \`/root/pshm "hello"\`를 실행하면 됩니다.`,
        zh: `你的新挂载命名空间已有自己的小型 /dev/shm，但 /dev/shm/${rootHas} 是（从外面的 shell）写进沙箱的 /dev/shm 的。请在挂载了新 tmpfs 的 shell 中写文件：在那里运行 \`/root/pshm "hello"\`。`,
      });
    }
    if (emptyPrivate) {
      return pending({
        en: `You have a new mount namespace with a small /dev/shm tmpfs; now put something in it there (\`/root/pshm "hello"\` makes /dev/shm/${SHM_NAME}).`,
        ko: `새 마운트 네임스페이스에 작은 /dev/shm tmpfs가 생겼습니다. 이제 그 셸에서 /dev/shm에 무언가를 넣으세요(\`/root/pshm "hello"\`가 /dev/shm/${SHM_NAME} 파일을 만듭니다).`,
        zh: `你已经有了带小型 /dev/shm tmpfs 的新挂载命名空间；现在在其中放点东西（\`/root/pshm "hello"\` 会创建 /dev/shm/${SHM_NAME}）。`,
      });
    }
    const shownInRoot = sharedFile ?? rootHas;
    if (shownInRoot) {
      // with a new mount namespace this is the lesson's own demonstration: not a mistake yet
      return (childNamespaces(c, 'mnt').size ? pending : fail)({
        en: `/dev/shm/${shownInRoot} is in the sandbox's own /dev/shm too. A new IPC namespace does not give you a new /dev/shm: it is a tmpfs that belongs to the mount namespace, and \`unshare --mount\` only copies the mount that points to it. In the shell started with \`unshare --ipc --mount\`, mount a fresh one (\`mount -t tmpfs -o size=16m shm /dev/shm\`) and write the file there.`,
        ko: `/dev/shm/${shownInRoot} 파일이 샌드박스 자체의 /dev/shm에도 있습니다. 새 IPC 네임스페이스가 새 /dev/shm을 주지는 않습니다. /dev/shm은 마운트 네임스페이스에 속한 tmpfs이고, \`unshare --mount\`는 그것을 가리키는 마운트를 복사할 뿐입니다. \`unshare --ipc --mount\`로 시작한 셸에서 새 tmpfs를 마운트(\`mount -t tmpfs -o size=16m shm /dev/shm\`)하고 그곳에 파일을 쓰세요.`,
        zh: `/dev/shm/${shownInRoot} 在沙箱自身的 /dev/shm 中也存在。新的 IPC 命名空间并不会带来新的 /dev/shm：它是属于挂载命名空间的 tmpfs，而 \`unshare --mount\` 只是复制了指向它的挂载。请在用 \`unshare --ipc --mount\` 启动的 shell 中挂载一个新的（\`mount -t tmpfs -o size=16m shm /dev/shm\`），再在那里写文件。`,
      });
    }
    return pending({
      en: 'No new mount namespace has its own /dev/shm with a file in it yet: in the `unshare --ipc --mount` shell run `mount -t tmpfs -o size=16m shm /dev/shm`, then `/root/pshm "hello"`.',
      ko: '아직 자기만의 /dev/shm이 있고 그 안에 파일이 든 새 마운트 네임스페이스가 없습니다. `unshare --ipc --mount` 셸에서 `mount -t tmpfs -o size=16m shm /dev/shm`을 실행한 뒤 `/root/pshm "hello"`를 실행하세요.',
      zh: '还没有哪个新的挂载命名空间拥有自己的、且放了文件的 /dev/shm：在 `unshare --ipc --mount` 的 shell 中运行 `mount -t tmpfs -o size=16m shm /dev/shm`，然后运行 `/root/pshm "hello"`。',
    });
  },

  'ipc-limits': async (lab) => {
    const c = await ctx(lab);
    // every sysctl read is a helper process per namespace: read only the limits the
    // learner has named in a command (`sysctl -w kernel.msgmni=64`, `echo 64 > /proc/sys/kernel/msgmni`)
    const typed = lab.commands().map((e) => e.command.replace(/\//g, '.')).join('\n');
    const names = Object.keys(IPC_SYSCTL_DEFAULTS).filter((n) => new RegExp(`\\b${n.replace(/\./g, '\\.')}\\b`).test(typed));
    const children = childNamespaces(c, 'ipc');
    if (!names.length) {
      return pending(children.size ? {
        en: 'Your child IPC namespace still has the default limits: run `sysctl -w kernel.msgmni=64` in it.',
        ko: '자식 IPC 네임스페이스의 한도가 아직 기본값입니다. 그 안에서 `sysctl -w kernel.msgmni=64`를 실행하세요.',
        zh: '子 IPC 命名空间的限制仍是默认值：在其中运行 `sysctl -w kernel.msgmni=64`。',
      } : NO_CHILD);
    }
    const rootVals = new Map<string, string | null>();
    for (const n of names) rootVals.set(n, await lab.sysctl(c.init.hostPid, n).then(norm, () => null));
    for (const p of children.values()) {
      for (const n of names) {
        const v = await lab.sysctl(p.hostPid, n).then(norm, () => null);
        if (v === null) continue;
        if (v !== norm(IPC_SYSCTL_DEFAULTS[n]) && v !== rootVals.get(n)) return pass();
      }
    }
    const changedRoot = names.filter((n) => rootVals.get(n) !== null && rootVals.get(n) !== norm(IPC_SYSCTL_DEFAULTS[n]));
    if (changedRoot.length) {
      const n = changedRoot[0];
      return fail({
        en: `You changed ${n} in the sandbox's own IPC namespace (it is ${rootVals.get(n)} there). A new IPC namespace does not inherit that: it starts from the kernel's defaults. Set the value inside the shell started with \`unshare --ipc\` (\`sysctl -w kernel.msgmni=64\`), and put the sandbox's back with \`sysctl -w ${n}=${IPC_SYSCTL_DEFAULTS[n].includes(' ') ? `"${IPC_SYSCTL_DEFAULTS[n]}"` : IPC_SYSCTL_DEFAULTS[n]}\`.`,
        ko: `샌드박스 자체의 IPC 네임스페이스에서 ${n}을(를) 바꿨습니다(지금 그곳의 값은 ${rootVals.get(n)}입니다). 새 IPC 네임스페이스는 이 값을 물려받지 않고 커널 기본값으로 시작합니다. \`unshare --ipc\`로 시작한 셸 안에서 값을 바꾸고(\`sysctl -w kernel.msgmni=64\`), 샌드박스의 값은 다음 명령으로 되돌리세요: \`sysctl -w ${n}=${IPC_SYSCTL_DEFAULTS[n].includes(' ') ? `"${IPC_SYSCTL_DEFAULTS[n]}"` : IPC_SYSCTL_DEFAULTS[n]}\`.`,
        zh: `你修改的是沙箱自身 IPC 命名空间中的 ${n}（那里现在是 ${rootVals.get(n)}）。新的 IPC 命名空间不会继承它，而是从内核默认值开始。请在用 \`unshare --ipc\` 启动的 shell 里设置（\`sysctl -w kernel.msgmni=64\`），并用 \`sysctl -w ${n}=${IPC_SYSCTL_DEFAULTS[n].includes(' ') ? `"${IPC_SYSCTL_DEFAULTS[n]}"` : IPC_SYSCTL_DEFAULTS[n]}\` 恢复沙箱的值。`,
      });
    }
    if (children.size) {
      return pending({
        en: 'Your child IPC namespace still has the default limits: run `sysctl -w kernel.msgmni=64` in it.',
        ko: '자식 IPC 네임스페이스의 한도가 아직 기본값입니다. 그 안에서 `sysctl -w kernel.msgmni=64`를 실행하세요.',
        zh: '子 IPC 命名空间的限制仍是默认值：在其中运行 `sysctl -w kernel.msgmni=64`。',
      });
    }
    return pending(NO_CHILD);
  },

  'nsenter-debug': async (lab) => {
    const c = await ctx(lab);
    const log = lab.commands();
    const children = childNamespaces(c, 'ipc');
    let wrong: number | null = null;
    let unresolved = false;
    for (let i = 0; i < log.length; i++) {
      const e = log[i];
      if (e.kind !== 'cmd' || e.status !== 0 || e.ns.ipc !== c.root.ipc) continue;
      const target = await nsenterTarget(lab, c, i);
      if (target === undefined) continue;
      if (target === null) {
        // cannot tell the pid: accept if the terminal shows a key only a child namespace has
        const rootIpc = await ipcOf(lab, c.init);
        const rootKeys = new Set([...(rootIpc?.queues ?? []), ...(rootIpc?.shm ?? []), ...(rootIpc?.sems ?? [])].map((o) => o.key));
        const screen = lab.terminalText(e.terminal).toLowerCase();
        for (const p of children.values()) {
          const s = await ipcOf(lab, p);
          const keys = [...(s?.queues ?? []), ...(s?.shm ?? []), ...(s?.sems ?? [])].map((o) => o.key).filter((k) => k && !rootKeys.has(k));
          if (keys.some((k) => screen.includes(keyHex(k)))) return pass();
        }
        unresolved = true;
        continue;
      }
      const proc = c.procs.find((p) => p.pid === target);
      if (proc && proc.ns.ipc !== c.root.ipc) return pass();
      if (proc) wrong = target;
    }
    if (wrong !== null) {
      return fail({
        en: `Process ${wrong} is in the sandbox's own IPC namespace, so \`nsenter\` showed you the sandbox's objects, not the child's. Use the PID that \`echo $$\` printed in the \`unshare --ipc\` shell.`,
        ko: `프로세스 ${wrong}은(는) 샌드박스 자체의 IPC 네임스페이스에 있어서 \`nsenter\`가 자식 네임스페이스가 아니라 샌드박스의 객체를 보여 주었습니다. \`unshare --ipc\` 셸에서 \`echo $$\`가 출력한 PID를 쓰세요.`,
        zh: `进程 ${wrong} 位于沙箱自身的 IPC 命名空间，所以 \`nsenter\` 显示的是沙箱的对象而不是子命名空间的。请使用在 \`unshare --ipc\` 的 shell 里 \`echo $$\` 打印出的 PID。`,
      });
    }
    if (unresolved) {
      return fail({
        en: 'I cannot tell which process your `nsenter` entered. Type the PID as a number: `nsenter -t 1234 --ipc ipcs` (1234 = what `echo $$` printed in the child shell).',
        ko: '`nsenter`가 어느 프로세스로 들어갔는지 알 수 없습니다. PID를 숫자로 입력하세요: `nsenter -t 1234 --ipc ipcs`(1234 = 자식 셸에서 `echo $$`가 출력한 값).',
        zh: '无法判断你的 `nsenter` 进入了哪个进程。请直接输入 PID 数字：`nsenter -t 1234 --ipc ipcs`（1234 为子 shell 中 `echo $$` 打印的值）。',
      });
    }
    if (!children.size) return pending(NO_CHILD);
    return pending({
      en: 'From terminal 2 (the sandbox\'s own namespaces), list the child\'s objects: `nsenter -t PID --ipc ipcs`, where PID is what `echo $$` printed in the child shell.',
      ko: '터미널 2(샌드박스 자체의 네임스페이스)에서 자식 네임스페이스의 객체를 나열하세요: `nsenter -t PID --ipc ipcs`(PID = 자식 셸에서 `echo $$`가 출력한 값).',
      zh: '在终端 2（沙箱自身的命名空间）中列出子命名空间的对象：`nsenter -t PID --ipc ipcs`，PID 为子 shell 中 `echo $$` 打印的值。',
    });
  },

  cleanup: async (lab) => {
    const c = await ctx(lab);
    const log = lab.commands();
    const children = childNamespaces(c, 'ipc');
    let leftovers: { ns: number; s: SysvIpc; inProgress: boolean } | null = null;
    for (const [ns, p] of children) {
      const made = log.some((e) => e.kind === 'cmd' && e.status === 0 && e.ns.ipc === ns && /\bipcmk\b|keydemo/.test(e.command));
      const removed = log.some((e) => e.kind === 'cmd' && e.status === 0 && /\bipcrm\b/.test(e.command) && (e.ns.ipc === ns || /\bnsenter\b/.test(e.command)));
      if (!made) continue;
      const s = await ipcOf(lab, p);
      if (!s) continue;
      if (count(s) === 0 && removed) return pass();
      if (count(s) > 0 && (removed || log.some((e) => e.kind === 'cmd' && /\bipcrm\b/.test(e.command)))) leftovers = { ns, s, inProgress: removed };
    }
    if (leftovers) {
      const s = leftovers.s;
      return (leftovers.inProgress ? pending : fail)({
        en: `The child IPC namespace still holds ${s.shm.length} segment(s), ${s.sems.length} semaphore set(s) and ${s.queues.length} queue(s) (an \`ipcrm\` in terminal 2 only cleans the sandbox's own namespace). Remove them in the child shell: \`ipcrm -a\` (or one by one: \`ipcrm -q ID\`, \`-m ID\`, \`-s ID\`).`,
        ko: `자식 IPC 네임스페이스에 아직 공유 메모리 세그먼트 ${s.shm.length}개, 세마포어 집합 ${s.sems.length}개, 메시지 큐 ${s.queues.length}개가 남아 있습니다(터미널 2에서 실행한 \`ipcrm\`은 샌드박스 자체의 네임스페이스만 정리합니다). 자식 셸에서 지우세요: \`ipcrm -a\`(또는 하나씩 \`ipcrm -q ID\`, \`-m ID\`, \`-s ID\`).`,
        zh: `子 IPC 命名空间里还有 ${s.shm.length} 个共享内存段、${s.sems.length} 个信号量集和 ${s.queues.length} 个消息队列（在终端 2 里运行的 \`ipcrm\` 只清理沙箱自身的命名空间）。请在子 shell 中删除：\`ipcrm -a\`（或逐个 \`ipcrm -q ID\`、\`-m ID\`、\`-s ID\`）。`,
      });
    }
    if (!children.size) {
      return pending({
        en: 'No child IPC namespace is alive. Leaving the shell destroys the namespace and its objects with it, but this step wants them removed with `ipcrm` while the namespace still exists.',
        ko: '살아 있는 자식 IPC 네임스페이스가 없습니다. 셸을 나가면 네임스페이스와 함께 객체도 사라지지만, 이 단계에서는 네임스페이스가 아직 살아 있는 동안 `ipcrm`으로 지워야 합니다.',
        zh: '没有存活的子 IPC 命名空间。退出 shell 会连同命名空间一起销毁其中的对象，但这一步要求在命名空间仍然存在时用 `ipcrm` 删除它们。',
      });
    }
    return pending({
      en: 'In the child shell (still open), remove what you made with `ipcrm -a`, then `ipcs` shows empty tables.',
      ko: '아직 열려 있는 자식 셸에서 만든 것을 `ipcrm -a`로 지우세요. 그러면 `ipcs`에 빈 테이블이 나옵니다.',
      zh: '在仍然打开的子 shell 中用 `ipcrm -a` 删除你创建的对象，之后 `ipcs` 显示的表都是空的。',
    });
  },
});
