/**
 * Checks for the process isolation lesson. Every step leaves state behind, so every
 * check looks at state: processes with their namespace inodes and PIDs in nested
 * PID namespaces, /proc as a process sees it, and the sandbox's cgroups (v1 or v2:
 * `lab.cgroups()` reports both the same way, so one check grades the v2 path the
 * lesson shows on v2 hosts and the v1 path it shows on v1/hybrid hosts; only the
 * wording of the hints differs by `CgroupInfo.version`).
 */
import { defineChecks, fail, pass, pending, type CgroupInfo, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const SHELLS = new Set(['bash', 'sh', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);
const MiB = 1024 * 1024;
const MAX_LIMIT = 100 * MiB;

const isShell = (p: ProcessInfo) => SHELLS.has(p.comm) && p.state !== 'Z';
/** PID 1 of a PID namespace below the sandbox's */
const isNsInit = (p: ProcessInfo) => p.nsPids.length >= 2 && p.nsPids[p.nsPids.length - 1] === 1;

const mib = (n: number) => `${(n / MiB).toFixed(1).replace(/\.0$/, '')} MiB`;

/** groups the learner made with a memory limit of at most 100 MiB */
const limited = (groups: CgroupInfo[]) => groups.filter((g) => g.path !== '/' && g.memoryLimit !== null && g.memoryLimit <= MAX_LIMIT);
/**
 * Groups the sandbox comes with: its root, and on v2 the `init` leaf its shells start
 * in (a v2 group that hands controllers down may not hold processes). Without this a
 * fresh v2 sandbox would be told "the group /init has no memory limit".
 */
const isSandboxOwn = (g: CgroupInfo) => g.path === '/' || (g.version === 2 && g.path === '/init');

export default defineChecks({
  'pid-one': async (lab) => {
    const root = await lab.rootNamespaces();
    const procs = await lab.processes();
    const init = procs.find((p) => p.pid === 1);
    const shells = procs.filter((p) => isShell(p) && isNsInit(p));
    for (const p of shells) {
      if (p.ns.mnt === root.mnt) continue;
      // /proc/1 as this shell sees it must be the shell itself, not the sandbox's init
      const comm = await lab.readFile(p.hostPid, '/proc/1/comm').catch(() => null);
      if (comm !== null && comm.trim() === p.comm && comm.trim() !== init?.comm) return pass();
    }
    if (shells.length) {
      const p = shells[0];
      if (p.ns.mnt === root.mnt) {
        return fail({
          en: `Your shell is PID 1 of a new PID namespace (the sandbox sees it as PID ${p.pid}), but it still uses the sandbox's /proc, so \`ps\` shows every process of the sandbox. \`exit\` and add \`--mount-proc\`: \`unshare --pid --fork --mount-proc bash\`.`,
          ko: `셸은 새 PID 네임스페이스의 PID 1이지만(샌드박스에서 보면 PID ${p.pid}), 여전히 샌드박스의 /proc을 쓰고 있어서 \`ps\`에 샌드박스의 모든 프로세스가 보입니다. \`exit\`로 나온 뒤 \`--mount-proc\`을 붙여 다시 실행하세요: \`unshare --pid --fork --mount-proc bash\`.`,
          zh: `你的 shell 已经是新 PID 命名空间的 1 号进程（沙箱看到的是 PID ${p.pid}），但它仍在使用沙箱的 /proc，所以 \`ps\` 会列出沙箱里的全部进程。先 \`exit\`，再加上 \`--mount-proc\`：\`unshare --pid --fork --mount-proc bash\`。`,
        });
      }
      return fail({
        en: 'Your shell is PID 1 of a new PID namespace, but /proc in its mount namespace is not that namespace\'s proc. Mount a fresh one inside it (`mount -t proc proc /proc`) or restart with `unshare --pid --fork --mount-proc bash`.',
        ko: '셸은 새 PID 네임스페이스의 PID 1이지만, 셸이 속한 마운트 네임스페이스의 /proc은 그 PID 네임스페이스의 proc이 아닙니다. 그 안에서 proc을 새로 마운트하거나(`mount -t proc proc /proc`) `unshare --pid --fork --mount-proc bash`로 다시 시작하세요.',
        zh: '你的 shell 是新 PID 命名空间的 1 号进程，但它所在的挂载命名空间里的 /proc 并不是这个 PID 命名空间的 proc。请在其中重新挂载一个（`mount -t proc proc /proc`），或者用 `unshare --pid --fork --mount-proc bash` 重新启动。',
      });
    }
    const pidOnly = procs.some((p) => isShell(p) && p.ns.pid_for_children !== p.ns.pid);
    if (pidOnly) {
      return fail({
        en: 'Your shell made a new PID namespace but is not inside it: without `--fork`, only its *children* land there, and the first child to exit takes the namespace down ("fork: Cannot allocate memory"). `exit` and run `unshare --pid --fork --mount-proc bash`.',
        ko: '셸이 새 PID 네임스페이스를 만들었지만 자신은 그 안에 있지 않습니다. `--fork`가 없으면 셸의 자식 프로세스만 그곳에 들어가고, 첫 자식이 끝나면 네임스페이스도 끝납니다("fork: Cannot allocate memory"). `exit`로 나온 뒤 `unshare --pid --fork --mount-proc bash`를 실행하세요.',
        zh: '你的 shell 创建了新的 PID 命名空间，但自己并不在里面：没有 `--fork` 时只有它的子进程会进入新命名空间，第一个子进程退出后这个命名空间就不能再用了（“fork: Cannot allocate memory”）。先 `exit`，再运行 `unshare --pid --fork --mount-proc bash`。',
      });
    }
    return pending({
      en: 'No shell is PID 1 of a new PID namespace yet. Run `unshare --pid --fork --mount-proc bash` and stay in it.',
      ko: '아직 새 PID 네임스페이스의 PID 1인 셸이 없습니다. `unshare --pid --fork --mount-proc bash`를 실행하고 그 셸에 머무르세요.',
      zh: '还没有哪个 shell 是新 PID 命名空间的 1 号进程。运行 `unshare --pid --fork --mount-proc bash` 并留在其中。',
    });
  },

  'memory-limit': async (lab) => {
    const groups = await lab.cgroups();
    const good = limited(groups);
    if (good.some((g) => g.hostPids.length > 0)) return pass();
    if (good.length) {
      return fail({
        en: `The group ${good[0].path} has a limit of ${mib(good[0].memoryLimit!)}, but no process is in it. Move your shell in: \`echo $$ > <group directory>/cgroup.procs\`.`,
        ko: `그룹 ${good[0].path}에 ${mib(good[0].memoryLimit!)} 한도가 설정되어 있지만 그 안에 프로세스가 없습니다. 셸을 그룹으로 옮기세요: \`echo $$ > <그룹 디렉터리>/cgroup.procs\`.`,
        zh: `组 ${good[0].path} 设置了 ${mib(good[0].memoryLimit!)} 的限制，但里面没有进程。请把你的 shell 移进去：\`echo $$ > <组目录>/cgroup.procs\`。`,
      });
    }
    const tooBig = groups.find((g) => g.path !== '/' && g.memoryLimit !== null);
    if (tooBig) {
      return fail({
        en: `The group ${tooBig.path} has a limit of ${mib(tooBig.memoryLimit!)}, more than 100 MiB. Write a smaller value, e.g. \`100M\` (= 104857600 bytes).`,
        ko: `그룹 ${tooBig.path}의 한도가 ${mib(tooBig.memoryLimit!)}로 100 MiB보다 큽니다. \`100M\`(= 104857600바이트)처럼 더 작은 값을 쓰세요.`,
        zh: `组 ${tooBig.path} 的限制是 ${mib(tooBig.memoryLimit!)}，超过了 100 MiB。请写入更小的值，例如 \`100M\`（= 104857600 字节）。`,
      });
    }
    const made = groups.filter((g) => !isSandboxOwn(g));
    if (made.length) {
      const g = made[0];
      return fail(g.version === 2 ? {
        en: `The group ${g.path} exists but has no memory limit. Write it into the group's \`memory.max\`: \`echo 100M > /sys/fs/cgroup${g.path}/memory.max\`.`,
        ko: `그룹 ${g.path}에 메모리 한도가 설정되어 있지 않습니다. 그룹의 \`memory.max\`에 값을 쓰세요: \`echo 100M > /sys/fs/cgroup${g.path}/memory.max\`.`,
        zh: `组 ${g.path} 已存在，但没有内存限制。请把限制值写入该组的 \`memory.max\`：\`echo 100M > /sys/fs/cgroup${g.path}/memory.max\`。`,
      } : {
        en: `The group ${g.path} has no memory limit. Write it into the group's \`memory.limit_in_bytes\` in the memory controller's tree: \`echo 100M > /sys/fs/cgroup/memory${g.path}/memory.limit_in_bytes\`.`,
        ko: `그룹 ${g.path}에 메모리 한도가 설정되어 있지 않습니다. 메모리 컨트롤러 트리에 있는 그 그룹의 \`memory.limit_in_bytes\`에 값을 쓰세요: \`echo 100M > /sys/fs/cgroup/memory${g.path}/memory.limit_in_bytes\`.`,
        zh: `组 ${g.path} 没有内存限制。请把限制值写入内存控制器树中该组的 \`memory.limit_in_bytes\`：\`echo 100M > /sys/fs/cgroup/memory${g.path}/memory.limit_in_bytes\`。`,
      });
    }
    return pending(groups[0]?.version === 2 ? {
      en: 'No memory cgroup of yours yet. This host has cgroup v2: make a group (`mkdir /sys/fs/cgroup/mygroup`), write the limit into its `memory.max` and move your shell in through its `cgroup.procs`.',
      ko: '아직 직접 만든 메모리 cgroup이 없습니다. 이 호스트는 cgroup v2입니다. 그룹을 만들고(`mkdir /sys/fs/cgroup/mygroup`), 그 그룹의 `memory.max`에 한도를 쓴 뒤, `cgroup.procs`를 통해 셸을 그룹으로 옮기세요.',
      zh: '还没有你创建的内存 cgroup。这台主机是 cgroup v2：先建组（`mkdir /sys/fs/cgroup/mygroup`），把限制写进它的 `memory.max`，再通过它的 `cgroup.procs` 把 shell 移进去。',
    } : {
      en: 'No memory cgroup of yours yet. This host has cgroup v1: make a group in the memory controller\'s tree (`mkdir /sys/fs/cgroup/memory/mygroup`), write the limit into its `memory.limit_in_bytes` and move your shell in through its `cgroup.procs`.',
      ko: '아직 직접 만든 메모리 cgroup이 없습니다. 이 호스트는 cgroup v1입니다. 메모리 컨트롤러의 트리에 그룹을 만들고(`mkdir /sys/fs/cgroup/memory/mygroup`), 그 그룹의 `memory.limit_in_bytes`에 한도를 쓴 뒤, `cgroup.procs`를 통해 셸을 그룹으로 옮기세요.',
      zh: '还没有你创建的内存 cgroup。这台主机是 cgroup v1：在内存控制器的树里建组（`mkdir /sys/fs/cgroup/memory/mygroup`），把限制写进它的 `memory.limit_in_bytes`，再通过它的 `cgroup.procs` 把 shell 移进去。',
    });
  },

  'oom-kill': async (lab) => {
    const groups = await lab.cgroups();
    const good = limited(groups);
    if (good.some((g) => g.oomKills > 0)) return pass();
    if (!good.length) {
      return pending({
        en: 'First finish the previous step: a group with a memory limit of at most 100 MiB.',
        ko: '먼저 이전 단계를 마치세요. 메모리 한도가 100 MiB 이하인 그룹이 있어야 합니다.',
        zh: '请先完成上一步：需要一个内存限制不超过 100 MiB 的组。',
      });
    }
    if (!good.some((g) => g.hostPids.length > 0)) {
      return pending({
        en: 'No process is in your limited group. Move the shell in (`echo $$ > .../cgroup.procs`) and run the memory hog from that shell.',
        ko: '한도를 설정한 그룹에 프로세스가 없습니다. 셸을 그룹으로 옮기고(`echo $$ > .../cgroup.procs`) 그 셸에서 메모리를 많이 쓰는 프로그램을 실행하세요.',
        zh: '设了限制的组里没有进程。先把 shell 移进去（`echo $$ > .../cgroup.procs`），再从这个 shell 运行占用内存的程序。',
      });
    }
    return pending({
      en: `Nothing in your group has been OOM-killed yet. From the shell inside the group, allocate more than the limit (${mib(good[0].memoryLimit!)}), e.g. \`python3 -c 'b = bytearray(200 * 1024 * 1024)'\`. A process in another terminal is not limited by this group.`,
      ko: `아직 그룹 안에서 OOM 킬러가 죽인 프로세스가 없습니다. 그룹에 들어간 셸에서 한도(${mib(good[0].memoryLimit!)})보다 많은 메모리를 할당하세요. 예: \`python3 -c 'b = bytearray(200 * 1024 * 1024)'\`. 다른 터미널의 프로세스는 이 그룹의 제한을 받지 않습니다.`,
      zh: `组里还没有进程被 OOM killer 杀掉。在组内的 shell 中申请超过限制（${mib(good[0].memoryLimit!)}）的内存，例如 \`python3 -c 'b = bytearray(200 * 1024 * 1024)'\`。另一个终端里的进程不受这个组的限制。`,
    });
  },

  'mini-container': async (lab) => {
    const root = await lab.rootNamespaces();
    const kinds = ['pid', 'mnt', 'uts', 'ipc', 'net'] as const;
    const shells = (await lab.processes()).filter(isShell);
    if (shells.some((p) => kinds.every((k) => p.ns[k] !== root[k]))) return pass();
    // the shell with the most new namespaces, to say what is missing
    let best: ProcessInfo | null = null;
    let bestCount = 0;
    for (const p of shells) {
      const n = kinds.filter((k) => p.ns[k] !== root[k]).length;
      if (n > bestCount) { best = p; bestCount = n; }
    }
    if (best) {
      const missing = kinds.filter((k) => best!.ns[k] === root[k]);
      const pidHint = missing.includes('pid') && best.ns.pid_for_children !== root.pid_for_children;
      return fail({
        en: `A shell (PID ${best.pid}) has some new namespaces, but still shares ${missing.join(', ')} with the sandbox.${pidHint ? ' For pid, `--fork` is needed: without it only the shell\'s children enter the new PID namespace.' : ''} Start it with all five: \`unshare --pid --fork --mount-proc --uts --ipc --net bash\`.`,
        ko: `셸(PID ${best.pid})에 새 네임스페이스가 일부 있지만 ${missing.join(', ')} 네임스페이스는 아직 샌드박스와 공유합니다.${pidHint ? ' pid에는 `--fork`가 필요합니다. 이 옵션이 없으면 셸의 자식만 새 PID 네임스페이스에 들어갑니다.' : ''} 다섯 가지를 모두 지정해 셸을 시작하세요: \`unshare --pid --fork --mount-proc --uts --ipc --net bash\`.`,
        zh: `有个 shell（PID ${best.pid}）已有部分新的命名空间，但 ${missing.join(', ')} 命名空间仍与沙箱共享。${pidHint ? 'pid 需要 `--fork`：没有它，只有 shell 的子进程会进入新的 PID 命名空间。' : ''}请同时指定全部五种来启动 shell：\`unshare --pid --fork --mount-proc --uts --ipc --net bash\`。`,
      });
    }
    return pending({
      en: 'No shell has new pid, mount, uts, ipc and net namespaces yet: run `unshare --pid --fork --mount-proc --uts --ipc --net bash` and stay in it.',
      ko: '아직 pid, mount, uts, ipc, net 네임스페이스를 모두 새로 가진 셸이 없습니다. `unshare --pid --fork --mount-proc --uts --ipc --net bash`를 실행하고 그 셸에 머무르세요.',
      zh: '还没有同时拥有新的 pid、mount、uts、ipc 和 net 命名空间的 shell：运行 `unshare --pid --fork --mount-proc --uts --ipc --net bash` 并留在其中。',
    });
  },
});
