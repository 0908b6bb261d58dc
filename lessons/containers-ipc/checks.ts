/**
 * Checks for containers-ipc. All four steps look at state: which PID and IPC
 * namespaces the sandbox's processes are in (their namespace inodes against the
 * sandbox's own, lab.rootNamespaces()), and the System V queues of each IPC
 * namespace (lab.ipc). A "container" here is a process in a PID namespace of its own.
 */
import { defineChecks, fail, pass, pending, type Lab, type NamespaceSet, type ProcessInfo, type SysvIpc } from '../../lab-server/checks/api.ts';

interface Ctx { root: NamespaceSet; procs: ProcessInfo[]; init: ProcessInfo }

async function ctx(lab: Lab): Promise<Ctx> {
  const [root, procs] = await Promise.all([lab.rootNamespaces(), lab.processes()]);
  const init = procs.find((p) => p.pid === 1);
  if (!init) throw new Error('the sandbox has no PID 1');
  return { root, procs: procs.filter((p) => p.state !== 'Z'), init };
}

/** live processes in a PID namespace of their own ("containers") */
const containers = (c: Ctx) => c.procs.filter((p) => p.ns.pid !== c.root.pid);

/** System V tables per IPC namespace, read once per namespace */
async function tables(lab: Lab, procs: ProcessInfo[]): Promise<Map<number, SysvIpc>> {
  const out = new Map<number, SysvIpc>();
  for (const p of procs) {
    if (out.has(p.ns.ipc)) continue;
    const s = await lab.ipc(p.hostPid).catch(() => null);
    if (s) out.set(p.ns.ipc, s);
  }
  return out;
}

/** distinct PID namespaces (other than the sandbox's) whose processes are in IPC namespace `ipc` */
function pidNamespacesIn(c: Ctx, ipc: number): Set<number> {
  return new Set(containers(c).filter((p) => p.ns.ipc === ipc).map((p) => p.ns.pid));
}

export default defineChecks({
  'ipc-private': async (lab) => {
    const c = await ctx(lab);
    // one representative per (pid ns, ipc ns) pair, both private
    const boxes = new Map<string, ProcessInfo>();
    for (const p of containers(c)) {
      if (p.ns.ipc === c.root.ipc) continue;
      const k = `${p.ns.pid}/${p.ns.ipc}`;
      if (!boxes.has(k)) boxes.set(k, p);
    }
    const list = [...boxes.values()];
    const t = await tables(lab, list);
    let twoBoxes = false;
    for (const a of list) {
      for (const b of list) {
        if (a.ns.pid === b.ns.pid || a.ns.ipc === b.ns.ipc) continue;
        twoBoxes = true;
        const qa = t.get(a.ns.ipc)?.queues ?? [];
        const qb = t.get(b.ns.ipc)?.queues ?? [];
        if (qa.some((q) => (q.key === 0 ? qb.length === 0 : !qb.some((o) => o.key === q.key)))) return pass();
      }
    }
    if (twoBoxes) {
      const rootQueues = (await lab.ipc(c.init.hostPid).catch(() => null))?.queues.length ?? 0;
      return (rootQueues ? fail : pending)(rootQueues ? {
        en: 'Your two containers are there, but the queue you made is in the sandbox\'s own IPC namespace (`ipcmk` ran in your shell, not inside a container). Run it inside c1: `nsenter -t $C1 --ipc ipcmk -Q`.',
        ko: '컨테이너 두 개는 준비됐지만, 만든 큐는 샌드박스 자체의 IPC 네임스페이스에 있습니다(`ipcmk`가 컨테이너 안이 아니라 셸에서 실행되었습니다). c1 안에서 실행하세요: `nsenter -t $C1 --ipc ipcmk -Q`.',
        zh: '两个容器都有了，但你创建的队列位于沙箱自身的 IPC 命名空间（`ipcmk` 是在你的 shell 中运行的，而不是在容器里）。请在 c1 里运行：`nsenter -t $C1 --ipc ipcmk -Q`。',
      } : {
        en: 'Your two containers are there; now make a queue inside the first one: `nsenter -t $C1 --ipc ipcmk -Q`.',
        ko: '컨테이너 두 개가 준비됐습니다. 이제 첫 번째 컨테이너 안에 큐를 만드세요: `nsenter -t $C1 --ipc ipcmk -Q`.',
        zh: '两个容器都有了；现在在第一个容器里创建一个队列：`nsenter -t $C1 --ipc ipcmk -Q`。',
      });
    }
    const ipcOnly = c.procs.filter((p) => p.ns.ipc !== c.root.ipc && p.ns.pid === c.root.pid && p.comm !== 'unshare' && p.comm !== 'nsenter');
    if (ipcOnly.length && !list.length) {
      return fail({
        en: 'These processes have a new IPC namespace but still share the sandbox\'s PID namespace, so they are not containers yet. Docker gives every container its own PID namespace too: start each with `unshare --ipc --pid --fork sleep infinity &`.',
        ko: '이 프로세스들은 새 IPC 네임스페이스를 가졌지만 샌드박스의 PID 네임스페이스를 공유하므로 아직 컨테이너가 아닙니다. Docker는 컨테이너마다 PID 네임스페이스도 따로 줍니다. 각 컨테이너를 `unshare --ipc --pid --fork sleep infinity &`로 시작하세요.',
        zh: '这些进程有了新的 IPC 命名空间，但仍共享沙箱的 PID 命名空间，所以还不算容器。Docker 也会给每个容器一个自己的 PID 命名空间：每个容器都用 `unshare --ipc --pid --fork sleep infinity &` 启动。',
      });
    }
    return pending({
      en: `You need two containers, each with its own PID and IPC namespaces, alive at the same time (${list.length} so far): \`unshare --ipc --pid --fork sleep infinity &\` twice.`,
      ko: `각자 자기 PID·IPC 네임스페이스를 가진 컨테이너 두 개가 동시에 살아 있어야 합니다(지금까지 ${list.length}개): \`unshare --ipc --pid --fork sleep infinity &\`를 두 번 실행하세요.`,
      zh: `需要两个同时存活、各自拥有 PID 和 IPC 命名空间的容器（目前 ${list.length} 个）：运行两次 \`unshare --ipc --pid --fork sleep infinity &\`。`,
    });
  },

  'ipc-shareable': async (lab) => {
    const c = await ctx(lab);
    const ipcs = new Set(containers(c).map((p) => p.ns.ipc).filter((i) => i !== c.root.ipc));
    let sharedEmpty = false;
    let samePid = false;
    for (const ipc of ipcs) {
      const pids = pidNamespacesIn(c, ipc);
      if (pids.size < 2) {
        // joined, but into the other container's PID namespace as well
        if (c.procs.filter((p) => p.ns.ipc === ipc && p.ns.pid !== c.root.pid && p.comm !== 'unshare' && p.comm !== 'nsenter').length >= 2) samePid = true;
        continue;
      }
      const rep = containers(c).find((p) => p.ns.ipc === ipc)!;
      const s = await lab.ipc(rep.hostPid).catch(() => null);
      if (s && s.queues.length) return pass();
      sharedEmpty = true;
    }
    if (sharedEmpty) {
      return fail({
        en: 'Two containers share an IPC namespace, but it has no message queue: the third container joined the wrong one (c2?). Join the container that holds the queue: `nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`.',
        ko: '두 컨테이너가 IPC 네임스페이스를 공유하지만 그곳에 메시지 큐가 없습니다. 세 번째 컨테이너가 엉뚱한 네임스페이스(c2의 것?)에 합류했습니다. 큐가 있는 컨테이너에 합류하세요: `nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`.',
        zh: '有两个容器共享一个 IPC 命名空间，但里面没有消息队列：第三个容器加入错了命名空间（是 c2 的吗？）。请加入队列所在的那个容器：`nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`。',
      });
    }
    if (samePid) {
      return fail({
        en: 'The third container joined c1\'s IPC namespace but also its PID namespace, so it is not a separate container. `--ipc=container:c1` shares only IPC: join with `nsenter -t $C1 --ipc` and make a new PID namespace with `unshare --pid --fork`.',
        ko: '세 번째 컨테이너가 c1의 IPC 네임스페이스뿐 아니라 PID 네임스페이스에도 합류했으므로 별개의 컨테이너가 아닙니다. `--ipc=container:c1`은 IPC만 공유합니다. `nsenter -t $C1 --ipc`로 합류하고 `unshare --pid --fork`로 새 PID 네임스페이스를 만드세요.',
        zh: '第三个容器不仅加入了 c1 的 IPC 命名空间，也加入了它的 PID 命名空间，因此不是一个独立的容器。`--ipc=container:c1` 只共享 IPC：用 `nsenter -t $C1 --ipc` 加入，再用 `unshare --pid --fork` 创建新的 PID 命名空间。',
      });
    }
    return pending({
      en: 'Start a third container in its own PID namespace that joins c1\'s IPC namespace (c1 must still be running): `nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`.',
      ko: 'c1의 IPC 네임스페이스에 합류하면서 자기 PID 네임스페이스를 따로 갖는 세 번째 컨테이너를 시작하세요(c1이 아직 실행 중이어야 합니다): `nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`.',
      zh: '启动第三个容器，让它拥有自己的 PID 命名空间，同时加入 c1 的 IPC 命名空间（c1 必须仍在运行）：`nsenter -t $C1 --ipc unshare --pid --fork sleep infinity &`。',
    });
  },

  'ipc-host': async (lab) => {
    const c = await ctx(lab);
    const boxes = containers(c);
    if (boxes.some((p) => p.ns.ipc === c.root.ipc && p.ns.uts !== c.root.uts)) return pass();
    if (boxes.some((p) => p.ns.ipc === c.root.ipc)) {
      return fail({
        en: 'That container keeps the sandbox\'s IPC namespace but also its hostname namespace: give it its own UTS namespace too (`unshare --pid --uts --fork sleep infinity &`), as Docker does for every container.',
        ko: '그 컨테이너는 샌드박스의 IPC 네임스페이스를 유지하지만, 호스트 이름을 담는 UTS 네임스페이스까지 샌드박스의 것을 그대로 씁니다. Docker가 모든 컨테이너에 하듯이 UTS 네임스페이스도 따로 주세요(`unshare --pid --uts --fork sleep infinity &`).',
        zh: '这个容器保留了沙箱的 IPC 命名空间，但也共享了沙箱的主机名命名空间（UTS）：像 Docker 对每个容器那样，也给它一个自己的 UTS 命名空间（`unshare --pid --uts --fork sleep infinity &`）。',
      });
    }
    const utsOnly = c.procs.some((p) => p.ns.uts !== c.root.uts && p.ns.pid === c.root.pid && p.ns.ipc === c.root.ipc && p.comm !== 'unshare' && p.comm !== 'nsenter');
    if (utsOnly) {
      return fail({
        en: 'That process has its own hostname but lives in the sandbox\'s PID namespace: an `--ipc=host` container still has its own PID namespace. Add `--pid --fork`: `unshare --pid --uts --fork sleep infinity &`.',
        ko: '그 프로세스는 자체 호스트 이름을 가졌지만 샌드박스의 PID 네임스페이스에 있습니다. `--ipc=host` 컨테이너도 PID 네임스페이스는 따로 가집니다. `--pid --fork`를 추가하세요: `unshare --pid --uts --fork sleep infinity &`.',
        zh: '这个进程有自己的主机名，但仍在沙箱的 PID 命名空间中：`--ipc=host` 的容器依然有自己的 PID 命名空间。加上 `--pid --fork`：`unshare --pid --uts --fork sleep infinity &`。',
      });
    }
    if (boxes.some((p) => p.ns.uts !== c.root.uts)) {
      return pending({
        en: 'Your containers so far all have IPC namespaces of their own (that is `--ipc=private`). For `--ipc=host`, start one WITHOUT `--ipc`: `unshare --pid --uts --fork sleep infinity &`.',
        ko: '지금까지 만든 컨테이너는 모두 자기 IPC 네임스페이스를 가집니다(이것이 `--ipc=private`입니다). `--ipc=host`를 재현하려면 `--ipc`를 빼고 하나 시작하세요: `unshare --pid --uts --fork sleep infinity &`.',
        zh: '目前你的容器都有自己的 IPC 命名空间（即 `--ipc=private`）。要模拟 `--ipc=host`，请启动一个不带 `--ipc` 的容器：`unshare --pid --uts --fork sleep infinity &`。',
      });
    }
    return pending({
      en: 'Start a container with its own PID and UTS namespaces that keeps the sandbox\'s IPC namespace: `unshare --pid --uts --fork sleep infinity &`.',
      ko: '자체 PID·UTS 네임스페이스를 가지면서 샌드박스의 IPC 네임스페이스를 유지하는 컨테이너를 시작하세요: `unshare --pid --uts --fork sleep infinity &`.',
      zh: '启动一个拥有自己的 PID 和 UTS 命名空间、但保留沙箱 IPC 命名空间的容器：`unshare --pid --uts --fork sleep infinity &`。',
    });
  },

  pod: async (lab) => {
    const c = await ctx(lab);
    const ipcs = new Set(containers(c).map((p) => p.ns.ipc).filter((i) => i !== c.root.ipc));
    let best = 0;
    let sharedPid = false;
    for (const ipc of ipcs) {
      const n = pidNamespacesIn(c, ipc).size;
      if (n >= 3) return pass();
      best = Math.max(best, n);
      const members = containers(c).filter((p) => p.ns.ipc === ipc && p.comm !== 'unshare' && p.comm !== 'nsenter');
      if (members.length >= 3 && n < 3) sharedPid = true;
    }
    if (sharedPid) {
      return fail({
        en: 'Several containers are in the Pod\'s IPC namespace, but some of them also share one PID namespace. In a Pod each container keeps its own PID namespace (unless `shareProcessNamespace: true`): join with `nsenter -t $PAUSE --ipc --uts --net` and add `unshare --pid --fork`.',
        ko: '여러 컨테이너가 Pod의 IPC 네임스페이스에 있지만 일부는 PID 네임스페이스까지 공유합니다. Pod의 각 컨테이너는 (`shareProcessNamespace: true`가 아니면) 자기 PID 네임스페이스를 가집니다. `nsenter -t $PAUSE --ipc --uts --net`으로 합류하고 `unshare --pid --fork`를 덧붙이세요.',
        zh: '有几个容器在 Pod 的 IPC 命名空间里，但其中一些还共享同一个 PID 命名空间。在 Pod 中每个容器都有自己的 PID 命名空间（除非 `shareProcessNamespace: true`）：用 `nsenter -t $PAUSE --ipc --uts --net` 加入，再加上 `unshare --pid --fork`。',
      });
    }
    // a pause-like holder (own IPC and network namespaces), and containers started after it
    // that each made an IPC namespace of their own instead of joining it
    const pause = containers(c).filter((p) => p.ns.net !== c.root.net && p.ns.ipc !== c.root.ipc).pop();
    const loners = pause ? new Set(containers(c).filter((p) => p.pid > pause.pid && p.ns.ipc !== c.root.ipc && p.ns.ipc !== pause.ns.ipc).map((p) => p.ns.ipc)) : new Set();
    if (best <= 1 && loners.size >= 2) {
      return fail({
        en: 'Every container you started has an IPC namespace of its own. In a Pod they do not: the pause container creates one IPC namespace and every app container joins it. Start the pause holder, then join it with `nsenter -t $PAUSE --ipc ...`.',
        ko: '시작한 컨테이너마다 자기 IPC 네임스페이스를 가지고 있습니다. Pod에서는 그렇지 않습니다. pause 컨테이너가 IPC 네임스페이스 하나를 만들고 모든 앱 컨테이너가 거기에 합류합니다. pause 컨테이너를 먼저 시작한 뒤 `nsenter -t $PAUSE --ipc ...`로 그 네임스페이스에 합류하세요.',
        zh: '你启动的每个容器都有自己的 IPC 命名空间。Pod 里不是这样的：pause 容器创建一个 IPC 命名空间，所有应用容器都加入它。先启动 pause 容器，再用 `nsenter -t $PAUSE --ipc ...` 加入它的命名空间。',
      });
    }
    return pending({
      en: `A Pod needs one IPC namespace held by a pause container plus at least two app containers that joined it, each in its own PID namespace (the largest group so far spans ${best} PID namespace${best === 1 ? '' : 's'}; it needs 3).`,
      ko: `Pod에는 pause 컨테이너가 붙잡고 있는 IPC 네임스페이스 하나와, 거기에 합류한 앱 컨테이너 두 개 이상이 필요합니다. 각 컨테이너는 자기 PID 네임스페이스에 있어야 합니다(지금 가장 큰 묶음은 PID 네임스페이스 ${best}개에 걸쳐 있습니다. 3개가 필요합니다).`,
      zh: `一个 Pod 需要一个由 pause 容器持有的 IPC 命名空间，以及至少两个加入它的应用容器，各自有自己的 PID 命名空间（目前最大的一组分布在 ${best} 个 PID 命名空间中，需要 3 个）。`,
    });
  },
});
