/**
 * Checks for the sample lesson. `new-uts` looks at state (namespaces and hostnames
 * through the probe); `look` changes nothing, so the command log is its evidence;
 * `check-outside` needs both: the new namespace must still exist and the learner must
 * have asked for the hostname from the sandbox's own UTS namespace afterwards.
 */
import { defineChecks, fail, pass, pending, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const ORIGINAL = 'nslab';
const HOSTNAME_QUERY = /^\s*(hostname|uname\s+-n|uname\s+-a|cat\s+\/proc\/sys\/kernel\/hostname)\s*(;|$)/;

/** Processes in a UTS namespace other than the sandbox's, with the hostname they see. */
async function renamedShells(lab: Lab): Promise<{ proc: ProcessInfo; name: string }[]> {
  const root = await lab.rootNamespaces();
  const out: { proc: ProcessInfo; name: string }[] = [];
  for (const proc of await lab.processes()) {
    if (proc.ns.uts === root.uts) continue;
    const name = await lab.hostname(proc.hostPid).catch(() => null);
    if (name !== null && name !== ORIGINAL) out.push({ proc, name });
  }
  return out;
}

async function sandboxHostname(lab: Lab): Promise<string> {
  const init = (await lab.processes()).find((p) => p.pid === 1);
  if (!init) throw new Error('the sandbox has no PID 1');
  return lab.hostname(init.hostPid);
}

export default defineChecks({
  look: async (lab) => {
    const seen = lab.commands().some((e) => e.kind === 'cmd' && /readlink\s+(-\w+\s+)*\/proc\/(\$\$|self|\d+)\/ns\/uts|ls\s+(-\w+\s+)*\/proc\/(\$\$|self|\d+)\/ns\b|lsns/.test(e.command));
    return seen ? pass() : pending({
      en: 'Run `readlink /proc/$$/ns/uts` to see which UTS namespace your shell is in.',
      ko: '`readlink /proc/$$/ns/uts`를 실행해 셸이 속한 UTS 네임스페이스를 확인하세요.',
      zh: '运行 `readlink /proc/$$/ns/uts` 查看 shell 所在的 UTS 命名空间。',
    });
  },

  'new-uts': async (lab) => {
    const current = await sandboxHostname(lab);
    if (current !== ORIGINAL) {
      return fail({
        en: `The sandbox's own hostname is now "${current}": you renamed the whole machine. Start a shell in a new UTS namespace first (\`unshare --uts bash\`), then run \`hostname box1\` there (and \`hostname ${ORIGINAL}\` here to undo).`,
        ko: `샌드박스 자체의 호스트 이름이 "${current}"(으)로 바뀌었습니다. 머신 전체의 이름을 바꾼 것입니다. 먼저 새 UTS 네임스페이스에서 셸을 시작하고(\`unshare --uts bash\`) 그 셸에서 \`hostname box1\`을 실행하세요. 되돌리려면 여기서 \`hostname ${ORIGINAL}\`을 실행하세요.`,
        zh: `沙箱自身的主机名变成了“${current}”：你修改了整台机器的名字。请先在新的 UTS 命名空间中启动 shell（\`unshare --uts bash\`），再在其中运行 \`hostname box1\`（在这里运行 \`hostname ${ORIGINAL}\` 可以恢复）。`,
      });
    }
    if ((await renamedShells(lab)).length) return pass();
    const root = await lab.rootNamespaces();
    const inNew = (await lab.processes()).some((p) => p.ns.uts !== root.uts);
    if (inNew) {
      return fail({
        en: 'You are in a new UTS namespace, but its hostname is still the old one: run `hostname box1` in that shell.',
        ko: '새 UTS 네임스페이스에 들어왔지만 호스트 이름이 그대로입니다. 그 셸에서 `hostname box1`을 실행하세요.',
        zh: '你已经在新的 UTS 命名空间中了，但主机名还是原来的：请在那个 shell 中运行 `hostname box1`。',
      });
    }
    return pending({
      en: 'No process is in a new UTS namespace yet: run `unshare --uts bash` and stay in that shell.',
      ko: '아직 새 UTS 네임스페이스에 있는 프로세스가 없습니다. `unshare --uts bash`를 실행하고 그 셸에 머무르세요.',
      zh: '还没有进程处于新的 UTS 命名空间中：运行 `unshare --uts bash` 并留在那个 shell 中。',
    });
  },

  'check-outside': async (lab) => {
    const renamed = await renamedShells(lab);
    if (!renamed.length) {
      return pending({
        en: 'First finish the previous step: a shell in a new UTS namespace with its own hostname.',
        ko: '먼저 이전 단계를 마치세요. 새 UTS 네임스페이스에서 자기만의 호스트 이름을 가진 셸이 있어야 합니다.',
        zh: '请先完成上一步：需要一个位于新 UTS 命名空间中、拥有自己主机名的 shell。',
      });
    }
    const root = await lab.rootNamespaces();
    const log = lab.commands();
    const renamedNs = new Set(renamed.map((r) => r.proc.ns.uts));
    // the query must come after something happened in the renamed namespace
    const firstInNew = log.findIndex((e) => e.ns.uts !== undefined && renamedNs.has(e.ns.uts));
    const asked = firstInNew >= 0 && log.slice(firstInNew).some((e) => e.kind === 'cmd' && e.ns.uts === root.uts && HOSTNAME_QUERY.test(e.command));
    if (asked) return pass();
    return pending({
      en: 'In terminal 2 (the sandbox\'s own namespaces), run `hostname`.',
      ko: '터미널 2(샌드박스 자체의 네임스페이스)에서 `hostname`을 실행하세요.',
      zh: '在终端 2（沙箱自身的命名空间）中运行 `hostname`。',
    });
  },
});
