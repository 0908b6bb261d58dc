/**
 * Checks for the namespaces tour. `list-namespaces` and `compare-with-init` change
 * nothing, so the command log is their evidence. `new-uts` looks at state (UTS
 * namespaces and the hostnames inside them). `nsenter-uts` needs both: the renamed
 * namespace must still exist, and a shell outside it must have run a command inside
 * it with `nsenter --uts` after it got its name.
 */
import { defineChecks, fail, pass, pending, type CommandEvent, type Lab, type ProcessInfo } from '../../lab-server/checks/api.ts';

const ORIGINAL = 'nslab';
const PROC_NS = /\/proc\/(\$\$|\$BASHPID|self|\d+|\$\w+|\$\{\w+\})\/ns\b/g;

/** a command that shows where namespace links point (not just their names) */
function showsLinks(command: string): boolean {
  return command.split(/[;&|]+/).some((s) => /\/proc\/[^;&|]*?\/ns\b/.test(s) && (
    /\bls\b(\s+-{1,2}[\w-]+)*\s+-\w*l/.test(s) || /\breadlink\b|\bstat\b|\bfile\b|\bdiff\b/.test(s)));
}

/** the options of the first `nsenter` in a command line: does it enter the UTS namespace, and of which pid */
function nsenterOptions(command: string): { uts: boolean; target?: string } {
  // $(...) and `...` count as one word, whatever spaces they hold
  const flat = command.replace(/\$\([^()]*\)|`[^`]*`/g, '$SUB');
  const words = flat.slice(flat.search(/\bnsenter\b/)).split(/\s+/).slice(1);
  let uts = false;
  let target: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--' || !w.startsWith('-')) break;
    if (w === '-t' || w === '--target') { target = words[++i]; continue; }
    if (w.startsWith('--target=')) { target = w.slice(9); continue; }
    if (w === '--uts' || w === '--all') { uts = true; continue; }
    if (w.startsWith('--uts=')) { uts = true; target = /^--uts=\/proc\/([^/]+)\/ns\/uts$/.exec(w)?.[1] ?? target; continue; }
    if (/^-[a-zA-Z]+/.test(w) && !w.startsWith('--')) {
      const letters = w.slice(1);
      if (/[ua]/.test(letters.replace(/t.*$/, ''))) uts = true;
      const t = /t(.*)$/.exec(letters);
      if (t) target = t[1] || words[++i];
    }
  }
  return { uts, target: target !== undefined && /^\d+$/.test(target) ? target : undefined };
}

const cmds = (lab: Lab): CommandEvent[] => lab.commands().filter((e) => e.kind === 'cmd');

/** processes in a UTS namespace other than the sandbox's whose hostname was changed */
async function renamed(lab: Lab): Promise<{ proc: ProcessInfo; name: string }[]> {
  const root = await lab.rootNamespaces();
  const current = await sandboxHostname(lab);
  const out: { proc: ProcessInfo; name: string }[] = [];
  const seen = new Map<number, string | null>();
  for (const proc of await lab.processes()) {
    if (proc.ns.uts === root.uts || proc.state === 'Z') continue;
    if (!seen.has(proc.ns.uts)) seen.set(proc.ns.uts, await lab.hostname(proc.hostPid).catch(() => null));
    const name = seen.get(proc.ns.uts);
    if (name && name !== ORIGINAL && name !== current) out.push({ proc, name });
  }
  return out;
}

async function sandboxHostname(lab: Lab): Promise<string> {
  const init = (await lab.processes()).find((p) => p.pid === 1);
  if (!init) throw new Error('the sandbox has no PID 1');
  return lab.hostname(init.hostPid);
}

export default defineChecks({
  'list-namespaces': async (lab) => {
    const log = cmds(lab);
    if (log.some((e) => showsLinks(e.command) && (e.status === 0 || /\bdiff\b/.test(e.command)))) return pass();
    if (log.some((e) => /\/proc\/[^/\s]+\/ns\b/.test(e.command) && /\bls\b/.test(e.command))) {
      return pending({
        en: 'Plain `ls` shows only the names of the links. Add `-l` to see where each one points: `ls -l /proc/$$/ns`.',
        ko: '옵션 없는 `ls`는 링크 이름만 보여 줍니다. `-l`을 붙여 각 링크가 가리키는 곳을 확인하세요: `ls -l /proc/$$/ns`.',
        zh: '不带选项的 `ls` 只显示链接名。加上 `-l` 才能看到每个链接指向哪里：`ls -l /proc/$$/ns`。',
      });
    }
    return pending({
      en: 'List your shell\'s namespace links with `ls -l /proc/$$/ns` and look at the numbers in brackets.',
      ko: '`ls -l /proc/$$/ns`로 셸의 네임스페이스 링크를 나열하고 대괄호 안의 숫자를 살펴보세요.',
      zh: '用 `ls -l /proc/$$/ns` 列出 shell 的命名空间链接，看看方括号里的数字。',
    });
  },

  'compare-with-init': async (lab) => {
    const log = cmds(lab);
    const refs = (c: string) => [...c.matchAll(PROC_NS)].map((m) => m[1]);
    // one command that looks at PID 1 and at another process, e.g. diff <(...) <(...)
    const together = log.some((e) => {
      const r = refs(e.command);
      return showsLinks(e.command) && r.includes('1') && r.some((x) => x !== '1') && (e.status === 0 || (/\bdiff\b/.test(e.command) && e.status === 1));
    });
    if (together) return pass();
    // or PID 1's links listed on their own, after the shell's
    const firstOwn = log.findIndex((e) => showsLinks(e.command) && refs(e.command).some((x) => x !== '1') && e.status === 0);
    const initAfter = firstOwn >= 0 && log.slice(firstOwn).some((e) => showsLinks(e.command) && refs(e.command).includes('1') && e.status === 0);
    if (initAfter) return pass();
    return pending({
      en: 'Compare PID 1\'s namespace links with your shell\'s, for example: `diff <(readlink /proc/1/ns/*) <(readlink /proc/$$/ns/*)` (no output = all the same).',
      ko: 'PID 1의 네임스페이스 링크와 셸의 링크를 비교하세요. 예: `diff <(readlink /proc/1/ns/*) <(readlink /proc/$$/ns/*)` (출력이 없으면 모두 같다는 뜻입니다).',
      zh: '比较 1 号进程与你的 shell 的命名空间链接，例如：`diff <(readlink /proc/1/ns/*) <(readlink /proc/$$/ns/*)`（没有输出 = 全部相同）。',
    });
  },

  'new-uts': async (lab) => {
    const current = await sandboxHostname(lab);
    if (current !== ORIGINAL) {
      return fail({
        en: `The sandbox's own hostname is now "${current}": \`hostname\` ran in the sandbox's UTS namespace and renamed the whole machine. Run \`hostname ${ORIGINAL}\` there to undo it, then rename only inside a new UTS namespace: \`unshare --uts bash\`, then \`hostname box1\`.`,
        ko: `샌드박스 자체의 호스트 이름이 "${current}"(으)로 바뀌었습니다. \`hostname\`이 샌드박스의 UTS 네임스페이스에서 실행되어 머신 전체의 이름을 바꾼 것입니다. 그곳에서 \`hostname ${ORIGINAL}\`으로 되돌린 뒤, 이름은 새 UTS 네임스페이스 안에서만 바꾸세요. \`unshare --uts bash\`를 실행한 다음 \`hostname box1\`을 실행하면 됩니다.`,
        zh: `沙箱自身的主机名变成了“${current}”：\`hostname\` 在沙箱的 UTS 命名空间中运行，改掉了整台机器的名字。先在那里运行 \`hostname ${ORIGINAL}\` 恢复，再只在新的 UTS 命名空间里改名：\`unshare --uts bash\`，然后 \`hostname box1\`。`,
      });
    }
    if ((await renamed(lab)).length) return pass();
    const root = await lab.rootNamespaces();
    if ((await lab.processes()).some((p) => p.ns.uts !== root.uts)) {
      return fail({
        en: 'You are in a new UTS namespace, but its hostname is still the inherited one. Run `hostname box1` in that shell.',
        ko: '새 UTS 네임스페이스에 들어왔지만 호스트 이름이 물려받은 그대로입니다. 그 셸에서 `hostname box1`을 실행하세요.',
        zh: '你已在新的 UTS 命名空间中，但主机名还是继承来的那个。请在那个 shell 里运行 `hostname box1`。',
      });
    }
    return pending({
      en: 'No process is in a new UTS namespace yet: run `unshare --uts bash` in terminal 1 and stay in that shell.',
      ko: '아직 새 UTS 네임스페이스에 있는 프로세스가 없습니다. 터미널 1에서 `unshare --uts bash`를 실행하고 그 셸에 머무르세요.',
      zh: '还没有进程处于新的 UTS 命名空间中：在终端 1 运行 `unshare --uts bash` 并留在那个 shell 里。',
    });
  },

  'nsenter-uts': async (lab) => {
    const root = await lab.rootNamespaces();
    const named = await renamed(lab);
    if (!named.length) {
      return pending({
        en: 'First finish the previous step and keep that shell open: a new UTS namespace with its own hostname must exist for `nsenter` to enter it.',
        ko: '먼저 이전 단계를 마치고 그 셸을 열어 두세요. `nsenter`로 들어가려면 자체 호스트 이름을 가진 새 UTS 네임스페이스가 있어야 합니다.',
        zh: '请先完成上一步并保持那个 shell 打开：必须存在一个有自己主机名的新 UTS 命名空间，`nsenter` 才能进入。',
      });
    }
    const namedNs = new Set(named.map((r) => r.proc.ns.uts));
    const pidsInNamed = new Set(named.map((r) => String(r.proc.pid)));
    const log = lab.commands();
    const firstInside = log.findIndex((e) => e.ns.uts !== undefined && namedNs.has(e.ns.uts));
    const after = firstInside < 0 ? log : log.slice(firstInside + 1);
    let wrongTarget = false;
    let noUts = false;
    for (const e of after) {
      if (e.kind !== 'cmd' || e.ns.uts !== root.uts || !/\bnsenter\b/.test(e.command)) continue;
      const opts = nsenterOptions(e.command);
      if (!opts.uts) { noUts = true; continue; }
      // a literal target pid must be one of the renamed namespace's processes
      const target = opts.target;
      if (target !== undefined && !pidsInNamed.has(target)) { wrongTarget = true; continue; }
      // a computed target ($(cat file)): the terminal must have shown the new name
      const screen = lab.terminalText(e.terminal);
      if (target === undefined && screen !== '' && !named.some((r) => new RegExp(`(^|\\n)${r.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*(\\n|$)`).test(screen))) { wrongTarget = true; continue; }
      if (e.status === 0) return pass();
    }
    if (wrongTarget) {
      return fail({
        en: `nsenter entered the UTS namespace of a process that is not in your renamed namespace. Use the PID of the shell in the new namespace (run \`echo $$\` there): one of ${[...pidsInNamed].slice(0, 5).join(', ')}.`,
        ko: `nsenter가 들어간 곳은 호스트 이름을 바꾼 네임스페이스 밖에 있는 프로세스의 UTS 네임스페이스입니다. 새 네임스페이스에 있는 셸의 PID를 쓰세요(그 셸에서 \`echo $$\`로 확인). ${[...pidsInNamed].slice(0, 5).join(', ')} 중 하나입니다.`,
        zh: `nsenter 进入的是另一个进程的 UTS 命名空间，而这个进程并不在你改过主机名的那个命名空间里。请使用新命名空间中那个 shell 的 PID（在那里运行 \`echo $$\` 查看）：${[...pidsInNamed].slice(0, 5).join(', ')} 之一。`,
      });
    }
    if (noUts) {
      return fail({
        en: 'nsenter ran, but without `--uts` (`-u`) it entered no namespace, so the command saw the sandbox\'s hostname. Add `--uts`: `nsenter --target PID --uts hostname`.',
        ko: 'nsenter는 실행되었지만 `--uts`(`-u`)가 없어서 어떤 네임스페이스에도 들어가지 않았습니다. 그래서 명령에는 샌드박스의 호스트 이름이 보였습니다. `--uts`를 붙이세요: `nsenter --target PID --uts hostname`.',
        zh: 'nsenter 运行了，但没有 `--uts`（`-u`）就不会进入任何命名空间，所以命令看到的是沙箱的主机名。加上 `--uts`：`nsenter --target PID --uts hostname`。',
      });
    }
    return pending({
      en: 'In terminal 2 (outside the new namespace), run `hostname` inside it: `nsenter --target PID --uts hostname`, with the PID that `echo $$` printed in the new shell.',
      ko: '터미널 2(새 네임스페이스 바깥)에서 새 네임스페이스 안으로 들어가 `hostname`을 실행하세요: `nsenter --target PID --uts hostname`. PID는 새 셸에서 `echo $$`가 출력한 값입니다.',
      zh: '在终端 2（新命名空间之外）进入新命名空间并运行 `hostname`：`nsenter --target PID --uts hostname`，其中 PID 是新 shell 里 `echo $$` 打印的值。',
    });
  },
});
