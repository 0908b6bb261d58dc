/**
 * Checks for the IPC namespace lesson.
 *
 * State steps (`unshare-ipc`, `create-queue`) look at processes, their namespace
 * inodes and the System V tables of each IPC namespace through the probe. Steps that
 * change nothing (`inspect-shell`, `compare-links`) use the command log;
 * `check-from-parent` needs both: the hidden queue must still exist, and a shell in
 * the sandbox's own IPC namespace must have listed the queues after it was made.
 */
import {
  defineChecks, fail, pass, pending,
  type CommandEvent, type Lab, type NamespaceSet, type ProcessInfo, type SysvQueue,
} from '../../lab-server/checks/api.ts';

const SHELLS = new Set(['bash', 'sh', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);
const OTHER_KINDS = ['cgroup', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'user', 'uts'] as const satisfies readonly (keyof NamespaceSet)[];

/** `ls -l /proc/$$/ns`, `ls -al /proc/self/ns/`, `readlink /proc/123/ns/*`, `stat -L /proc/$$/ns/ipc`, `file ...` */
const NS_LISTING = /(?:\bls\b(?:\s+-{1,2}[\w-]+)*\s+-\w*l\w*\b[^;|&]*|\breadlink\b[^;|&]*|\bstat\b[^;|&]*|\bfile\b[^;|&]*|\bdiff\b[^;|&]*)\/proc\/(\$\$|\$BASHPID|self|\d+)\/ns\b/;
/** the same with any expression for the pid, e.g. `/proc/$(cat /tmp/child.pid)/ns` */
const ANY_NS_LISTING = /(?:\bls\b(?:\s+-{1,2}[\w-]+)*\s+-\w*l\w*\b|\breadlink\b|\bstat\b|\bfile\b|\bdiff\b)[^;|&]*\/proc\/[^;|&]*?\/ns\b/;
const SHOWS_PID = /\becho\b[^;|&]*\$(\$|BASHPID|\{\$\})|\bps\b|\bpstree\b/;
/** a command that lists the System V message queues of the shell's own IPC namespace */
function listsQueues(command: string): boolean {
  if (/\bnsenter\b/.test(command)) return false; // that looks into another namespace
  return command.split(/[;&|()]+/).map((s) => s.trim()).some((s) =>
    /^(sudo\s+)?ipcs(\s+(-\w*[qa]\w*|--queues|--all|-\w+))*$/.test(s) && !/^ipcs\s+-[ms]\s*$/.test(s)
    || /^(sudo\s+)?lsipc\s+(-\w*q\w*|--queues)\b/.test(s)
    || /^cat\s+\/proc\/sysvipc\/msg$/.test(s));
}

const isShell = (p: ProcessInfo) => SHELLS.has(p.comm) && p.state !== 'Z';

async function sandboxInit(lab: Lab): Promise<ProcessInfo> {
  const init = (await lab.processes()).find((p) => p.pid === 1);
  if (!init) throw new Error('the sandbox has no PID 1');
  return init;
}

/** one live process per IPC namespace other than the sandbox's */
async function childIpcNamespaces(lab: Lab): Promise<Map<number, ProcessInfo>> {
  const root = await lab.rootNamespaces();
  const out = new Map<number, ProcessInfo>();
  for (const p of await lab.processes()) {
    if (p.ns.ipc !== root.ipc && p.state !== 'Z' && !out.has(p.ns.ipc)) out.set(p.ns.ipc, p);
  }
  return out;
}

interface HiddenQueue { ns: number; queue: SysvQueue }

/** queues that exist in a child IPC namespace and not in the sandbox's own */
async function hiddenQueues(lab: Lab): Promise<{ hidden: HiddenQueue[]; childNs: number; rootQueues: SysvQueue[] }> {
  const init = await sandboxInit(lab);
  const rootQueues = (await lab.ipc(init.hostPid)).queues;
  const rootKeys = new Set(rootQueues.map((q) => q.key).filter((k) => k !== 0));
  const hidden: HiddenQueue[] = [];
  const children = await childIpcNamespaces(lab);
  for (const [ns, proc] of children) {
    const ipc = await lab.ipc(proc.hostPid).catch(() => null); // the process may have just exited
    for (const queue of ipc?.queues ?? []) {
      if (queue.key === 0 || !rootKeys.has(queue.key)) hidden.push({ ns, queue });
    }
  }
  return { hidden, childNs: children.size, rootQueues };
}

const cmds = (lab: Lab): CommandEvent[] => lab.commands().filter((e) => e.kind === 'cmd');

export default defineChecks({
  'inspect-shell': async (lab) => {
    const log = cmds(lab);
    const listed = log.some((e) => NS_LISTING.test(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command)));
    const pid = log.some((e) => SHOWS_PID.test(e.command) && e.status === 0);
    if (listed && pid) return pass();
    if (listed) {
      return pending({
        en: 'You listed the namespace links; now note the shell\'s PID too: `echo $$`.',
        ko: '네임스페이스 링크는 확인했습니다. 이제 셸의 PID도 적어 두세요: `echo $$`.',
        zh: '已经列出了命名空间链接；再记下 shell 的 PID：`echo $$`。',
      });
    }
    if (log.some((e) => /\/proc\/(\$\$|self|\d+)\/ns\b/.test(e.command) && /\bls\b/.test(e.command))) {
      return pending({
        en: 'Plain `ls` shows only the names of the links. Use `ls -l /proc/$$/ns` so you also see where they point (`ipc:[4026...]`).',
        ko: '옵션 없는 `ls`는 링크 이름만 보여 줍니다. `ls -l /proc/$$/ns`로 링크가 가리키는 대상(`ipc:[4026...]`)까지 확인하세요.',
        zh: '不带选项的 `ls` 只显示链接的名字。用 `ls -l /proc/$$/ns` 才能看到它们指向哪里（`ipc:[4026...]`）。',
      });
    }
    return pending({
      en: 'Run `echo $$` to see your shell\'s PID and `ls -l /proc/$$/ns` to list its namespace links.',
      ko: '`echo $$`로 셸의 PID를, `ls -l /proc/$$/ns`로 네임스페이스 링크를 확인하세요.',
      zh: '运行 `echo $$` 查看 shell 的 PID，再运行 `ls -l /proc/$$/ns` 列出它的命名空间链接。',
    });
  },

  'unshare-ipc': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const byHost = new Map(procs.map((p) => [p.hostPid, p]));
    const candidates = procs.filter((p) => isShell(p) && p.ns.ipc !== root.ipc);
    /** the nearest ancestor outside p's IPC namespace: the shell `unshare` was typed into */
    const outside = (p: ProcessInfo): NamespaceSet => {
      let q = byHost.get(p.hostPpid);
      while (q && q.ns.ipc === p.ns.ipc) q = byHost.get(q.hostPpid);
      return q ? q.ns : root;
    };
    for (const p of candidates) {
      const ref = outside(p);
      if (OTHER_KINDS.every((k) => p.ns[k] === ref[k])) return pass();
    }
    if (candidates.length) {
      const p = candidates[0];
      const ref = outside(p);
      const differs = OTHER_KINDS.filter((k) => p.ns[k] !== ref[k] && k !== 'pid_for_children');
      return fail({
        en: `Your shell (PID ${p.pid}) has a new IPC namespace, but also new ${differs.join(', ')} namespace(s). For this lesson only IPC should change: \`exit\` and start it again with \`unshare --ipc bash\` alone.`,
        ko: `셸(PID ${p.pid})이 새 IPC 네임스페이스를 갖고 있지만 ${differs.join(', ')} 네임스페이스도 새로 만들어졌습니다. 이 레슨에서는 IPC만 바뀌어야 합니다. \`exit\`로 나온 뒤 다른 옵션 없이 \`unshare --ipc bash\`로 다시 시작하세요.`,
        zh: `你的 shell（PID ${p.pid}）有了新的 IPC 命名空间，但 ${differs.join(', ')} 命名空间也是新的。本课只应改变 IPC：先 \`exit\`，再只用 \`unshare --ipc bash\` 重新启动。`,
      });
    }
    return pending({
      en: 'No shell is in a new IPC namespace yet. Run `unshare --ipc bash` in terminal 1 and stay in that shell (a namespace lives only as long as a process is in it).',
      ko: '아직 새 IPC 네임스페이스에 있는 셸이 없습니다. 터미널 1에서 `unshare --ipc bash`를 실행하고 그 셸에 머무르세요(네임스페이스는 그 안에 프로세스가 있는 동안만 존재합니다).',
      zh: '还没有 shell 处于新的 IPC 命名空间中。在终端 1 运行 `unshare --ipc bash` 并留在那个 shell 里（只要命名空间中还有进程，它就一直存在）。',
    });
  },

  'create-queue': async (lab) => {
    const { hidden, childNs, rootQueues } = await hiddenQueues(lab);
    if (hidden.length) return pass();
    if (!childNs) {
      if (rootQueues.length) {
        return fail({
          en: 'There is a message queue, but it is in the sandbox\'s own IPC namespace, where every shell can see it. Start a shell in a new IPC namespace first (`unshare --ipc bash`) and run `ipcmk --queue` inside it.',
          ko: '메시지 큐는 있지만 샌드박스 자체의 IPC 네임스페이스에 있어서 모든 셸이 볼 수 있습니다. 먼저 새 IPC 네임스페이스에서 셸을 시작하고(`unshare --ipc bash`) 그 안에서 `ipcmk --queue`를 실행하세요.',
          zh: '消息队列是有了，但它在沙箱自身的 IPC 命名空间里，所有 shell 都看得见。请先在新的 IPC 命名空间中启动 shell（`unshare --ipc bash`），再在其中运行 `ipcmk --queue`。',
        });
      }
      return pending({
        en: 'No process is in a new IPC namespace. Run `unshare --ipc bash`, stay in it, and make a queue there with `ipcmk --queue`.',
        ko: '새 IPC 네임스페이스에 있는 프로세스가 없습니다. `unshare --ipc bash`를 실행해 그 셸에 머무르면서 `ipcmk --queue`로 큐를 만드세요.',
        zh: '没有进程处于新的 IPC 命名空间中。运行 `unshare --ipc bash`，留在其中，并用 `ipcmk --queue` 创建队列。',
      });
    }
    if (rootQueues.length) {
      return fail({
        en: 'The queue you made is in the sandbox\'s own IPC namespace (it was created before `unshare`, or in the other terminal), and the new namespace starts empty. Run `ipcmk --queue` inside the `unshare --ipc` shell.',
        ko: '만든 큐가 샌드박스 자체의 IPC 네임스페이스에 있습니다(`unshare` 전에 만들었거나 다른 터미널에서 만들었습니다). 새 네임스페이스는 빈 상태로 시작합니다. `unshare --ipc`로 시작한 셸 안에서 `ipcmk --queue`를 실행하세요.',
        zh: '你创建的队列在沙箱自身的 IPC 命名空间里（在 `unshare` 之前或在另一个终端里创建的），而新命名空间一开始是空的。请在 `unshare --ipc` 启动的 shell 中运行 `ipcmk --queue`。',
      });
    }
    return pending({
      en: 'Your new IPC namespace has no message queue yet: run `ipcmk --queue` in the `unshare --ipc` shell.',
      ko: '새 IPC 네임스페이스에 아직 메시지 큐가 없습니다. `unshare --ipc` 셸에서 `ipcmk --queue`를 실행하세요.',
      zh: '新的 IPC 命名空间里还没有消息队列：在 `unshare --ipc` 的 shell 中运行 `ipcmk --queue`。',
    });
  },

  'check-from-parent': async (lab) => {
    const root = await lab.rootNamespaces();
    const { hidden } = await hiddenQueues(lab);
    if (!hidden.length) {
      return pending({
        en: 'First a queue must exist in a live child IPC namespace (previous step). If you typed `exit` in the `unshare` shell, its namespace and the queue are gone: start again.',
        ko: '먼저 살아 있는 자식 IPC 네임스페이스에 큐가 있어야 합니다(이전 단계). `unshare` 셸에서 `exit`를 입력했다면 네임스페이스와 큐가 함께 사라졌으니 다시 시작하세요.',
        zh: '首先必须有一个仍然存活的子 IPC 命名空间，且其中有队列（上一步）。如果你在 `unshare` 的 shell 里输入了 `exit`，命名空间和队列都已消失：请从头再来。',
      });
    }
    const log = lab.commands();
    const namespaces = new Set(hidden.map((h) => h.ns));
    // when was the queue made? the first ipcmk (or, failing that, the first command) in its namespace
    const inNs = (e: CommandEvent) => e.ns.ipc !== undefined && namespaces.has(e.ns.ipc);
    let made = log.findIndex((e) => inNs(e) && e.kind === 'cmd' && /\bipcmk\b|msgget/.test(e.command));
    if (made < 0) made = log.findIndex(inNs);
    const after = made < 0 ? log : log.slice(made + 1);
    const looked = after.some((e) => e.kind === 'cmd' && e.ns.ipc === root.ipc && e.status === 0 && listsQueues(e.command));
    if (looked) return pass();
    const inChild = after.some((e) => e.kind === 'cmd' && inNs(e) && listsQueues(e.command));
    return pending(inChild
      ? {
        en: 'You listed the queues inside the child namespace, where the queue is of course visible. Now list them from terminal 2, a shell in the sandbox\'s own IPC namespace: `ipcs -q`.',
        ko: '큐 목록을 자식 네임스페이스 안에서 확인했는데, 그곳에서는 당연히 큐가 보입니다. 이제 샌드박스 자체의 IPC 네임스페이스에 있는 셸인 터미널 2에서 `ipcs -q`를 실행하세요.',
        zh: '你是在子命名空间里列出队列的，在那里当然看得见。现在到终端 2（位于沙箱自身 IPC 命名空间中的 shell）运行 `ipcs -q`。',
      }
      : {
        en: 'Now, with the queue made, open terminal 2 (a shell in the sandbox\'s own IPC namespace, like a second ssh login) and run `ipcs -q`.',
        ko: '큐를 만들었으니 이제 터미널 2(샌드박스 자체의 IPC 네임스페이스에 있는 셸로, ssh로 한 번 더 로그인한 것과 같습니다)에서 `ipcs -q`를 실행하세요.',
        zh: '队列已经建好，现在打开终端 2（位于沙箱自身 IPC 命名空间中的 shell，相当于再通过 ssh 登录一次），运行 `ipcs -q`。',
      });
  },

  'compare-links': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const childPids = new Set(procs.filter((p) => p.ns.ipc !== root.ipc).map((p) => String(p.pid)));
    const ok = cmds(lab).some((e) => {
      const m = NS_LISTING.exec(e.command);
      if (!m || !(e.status === 0 || (/\bdiff\b/.test(e.command) && e.status === 1))) return false;
      // every /proc/X/ns in the command: one of them must be the child shell's
      for (const x of e.command.matchAll(/\/proc\/(\$\$|\$BASHPID|self|\d+)\/ns\b/g)) {
        if (/^\d+$/.test(x[1]) ? childPids.has(x[1]) : e.ns.ipc !== undefined && e.ns.ipc !== root.ipc) return true;
      }
      return false;
    });
    if (ok) return pass();
    // `ls -l /proc/$(cat child.pid)/ns` from terminal 2: the screen must show a child's ipc link
    const childIpc = new Set<number>(procs.filter((p) => p.ns.ipc !== root.ipc).map((p) => p.ns.ipc));
    for (const e of lab.commands()) if (e.ns.ipc !== undefined && e.ns.ipc !== root.ipc) childIpc.add(e.ns.ipc);
    const shown = cmds(lab).some((e) => ANY_NS_LISTING.test(e.command) && !NS_LISTING.test(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command))
      && [...childIpc].some((ino) => lab.terminalText(e.terminal).includes(`ipc:[${ino}]`)));
    if (shown) return pass();
    return pending({
      en: 'List the namespace links of the shell in the new IPC namespace: run `ls -l /proc/$$/ns` inside it (or `ls -l /proc/PID/ns` with its PID from terminal 2) and compare with what you saw in the first step.',
      ko: '새 IPC 네임스페이스에 있는 셸의 네임스페이스 링크를 확인하세요. 그 셸 안에서 `ls -l /proc/$$/ns`를 실행하거나, 터미널 2에서 그 PID로 `ls -l /proc/PID/ns`를 실행한 뒤 첫 단계의 결과와 비교하세요.',
      zh: '列出新 IPC 命名空间中那个 shell 的命名空间链接：在其中运行 `ls -l /proc/$$/ns`（或在终端 2 用它的 PID 运行 `ls -l /proc/PID/ns`），再与第一步看到的结果比较。',
    });
  },
});
