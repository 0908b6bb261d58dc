/**
 * Markdown → HTML for lessons: markdown-it with raw HTML off (lesson text is data,
 * not markup we trust), `:::` containers for steps, hints and solutions, shiki for
 * code (light and dark themes as CSS variables, so the page switches themes without
 * re-rendering), and run buttons on fences marked `run` / `run=N`.
 *
 * Rendering also collects the step list and any structural problems, so loading a
 * lesson and linting it are the same pass: what lint accepts is what the server serves.
 */
import MarkdownIt from 'markdown-it';
import container from 'markdown-it-container';
import { createHighlighter, type Highlighter } from 'shiki';
import type { Lang } from '../contract/lang.ts';
import { STEP_ID } from './frontmatter.ts';
import { HOST_CONDITIONS, type HostFacts, holds, isHostCondition } from './host-conditions.ts';
import type { Problem } from './problems.ts';
import { NSMAP_KINDS, type NsmapKind } from '../contract/namespace-map.ts';

/** Languages highlighted; others render as plain text with a lint warning. */
export const CODE_LANGS = ['bash', 'c', 'python', 'yaml', 'diff', 'json', 'ini', 'make', 'shellsession'] as const;
const PLAIN = new Set(['', 'text', 'txt', 'plain', 'plaintext', 'output']);
export const THEMES = { light: 'github-light', dark: 'github-dark' } as const;

const LABELS: Record<Lang, { hint: string; solution: string; run: string; runTitle: (n: number) => string; note: string; warning: string; map: string }> = {
  en: { hint: 'Hint', solution: 'Solution', run: 'Run', runTitle: (n) => `Type this into terminal ${n}`, note: 'Note', warning: 'Careful', map: 'On the namespace map' },
  ko: { hint: '힌트', solution: '풀이', run: '실행', runTitle: (n) => `터미널 ${n}에 입력합니다`, note: '참고', warning: '주의', map: '네임스페이스 지도에서' },
  zh: { hint: '提示', solution: '答案', run: '运行', runTitle: (n) => `输入到终端 ${n}`, note: '说明', warning: '注意', map: '在命名空间图上' },
};

export interface StepInfo {
  id: string;
  title: string;
  /** 1-based line in the lesson file */
  line: number;
  /** the namespace kind the map focuses on at this step (`::: map <kind>`) */
  map?: NsmapKind;
}

export interface RenderEnv {
  file: string;
  lang: Lang;
  /** lines before the Markdown body in the file (front matter) */
  bodyOffset: number;
  /** how many terminals the lesson declares; run=N beyond that is an error */
  terminals: number;
  /** the host this rendering is for: `::: only <condition>` blocks that do not hold are left out */
  host: HostFacts;
  steps: StepInfo[];
  problems: Problem[];
}

export interface RenderResult { html: string; steps: StepInfo[]; problems: Problem[] }

export interface LessonRenderer {
  render(markdown: string, env: Omit<RenderEnv, 'steps' | 'problems'>): RenderResult;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const fileLine = (env: RenderEnv, map: [number, number] | null | undefined): number | undefined =>
  map ? map[0] + 1 + env.bodyOffset : undefined;

/** `bash run=2` → { lang: 'bash', run: 2 }; `run` alone means terminal 1. */
export function parseFenceInfo(info: string): { lang: string; run: number | null; bad: string | null } {
  const words = info.trim().split(/\s+/).filter(Boolean);
  let lang = '';
  let run: number | null = null;
  let bad: string | null = null;
  for (const [i, w] of words.entries()) {
    const m = /^run(?:=(\d+))?$/.exec(w);
    if (m) run = m[1] ? Number(m[1]) : 1;
    else if (/^run=/.test(w)) bad = w;
    else if (i === 0) lang = w.toLowerCase();
  }
  return { lang, run, bad };
}

function plainInline(md: InstanceType<typeof MarkdownIt>, text: string): string {
  return md.renderInline(text).replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

function createMarkdown(highlighter: Highlighter): InstanceType<typeof MarkdownIt> {
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  const known = new Set<string>([...highlighter.getLoadedLanguages()]);

  md.renderer.rules.fence = (tokens, idx, _opts, rawEnv) => {
    const env = rawEnv as unknown as RenderEnv;
    const token = tokens[idx];
    const { lang, run, bad } = parseFenceInfo(token.info);
    const line = fileLine(env, token.map);
    if (bad) env.problems.push({ file: env.file, line, severity: 'error', message: `bad run marker "${bad}": use "run" or "run=N" with N a terminal number` });
    let useLang = lang;
    if (!PLAIN.has(lang) && !known.has(lang)) {
      env.problems.push({ file: env.file, line, severity: 'warning', message: `code language "${lang}" is not highlighted (known: ${CODE_LANGS.join(', ')}); shown as plain text` });
      useLang = 'text';
    }
    if (PLAIN.has(useLang)) useLang = 'text';
    const code = token.content;
    // the fence's final newline would render as an empty last line
    const pre = highlighter.codeToHtml(code.replace(/\n$/, ''), { lang: useLang, themes: THEMES, defaultColor: false });
    if (run === null) return `<div class="nslab-code">${pre}</div>\n`;
    if (run < 1 || run > env.terminals) {
      env.problems.push({ file: env.file, line, severity: 'error', message: `run=${run} but the lesson has ${env.terminals} terminal${env.terminals === 1 ? '' : 's'} (front matter "terminals")` });
    }
    if (code.trim() === '') env.problems.push({ file: env.file, line, severity: 'error', message: 'a run block has no command in it' });
    const labels = LABELS[env.lang];
    // the web app's helper finds buttons by exactly this markup (class, data-terminal, data-command)
    const command = code.replace(/\n+$/, '');
    return `<div class="nslab-code nslab-code-run">${pre}<button class="nslab-run" data-terminal="${run}" data-command="${escapeHtml(command)}" type="button" title="${escapeHtml(labels.runTitle(run))}">${escapeHtml(labels.run)} ▸ ${run}</button></div>\n`;
  };

  md.use(container, 'step', {
    validate: (params: string) => /^step(\s|$)/.test(params.trim()),
    render(tokens: any[], idx: number, _opts: unknown, env: RenderEnv) {
      const token = tokens[idx];
      if (token.nesting !== 1) return '</section>\n';
      const m = /^step(?:\s+(\S+))?(?:\s+(.*))?$/.exec(token.info.trim());
      const id = m?.[1] ?? '';
      const title = (m?.[2] ?? '').trim();
      const line = fileLine(env, token.map);
      if (!id) env.problems.push({ file: env.file, line, severity: 'error', message: 'a step needs an id and a title: "::: step <step-id> <Title>"' });
      else if (!STEP_ID.test(id)) env.problems.push({ file: env.file, line, severity: 'error', message: `step id "${id}": lower-case letters, digits and dashes only` });
      else if (!title) env.problems.push({ file: env.file, line, severity: 'error', message: `step "${id}" has no title: "::: step ${id} <Title>"` });
      const dup = env.steps.find((s) => s.id === id);
      if (id && dup) env.problems.push({ file: env.file, line, severity: 'error', message: `step id "${id}" is used twice (first on line ${dup.line})` });
      // the step list (API, reports) gets the title as plain text: `code` and *emphasis* marks removed
      if (id && !dup) env.steps.push({ id, title: plainInline(md, title), line: line ?? 0 });
      const n = env.steps.length;
      return `<section class="nslab-step" id="step-${escapeHtml(id)}" data-step="${escapeHtml(id)}">\n<h2 class="nslab-step-title"><span class="nslab-step-number">${n}</span> ${md.renderInline(title)}</h2>\n`;
    },
  });

  for (const kind of ['hint', 'solution'] as const) {
    md.use(container, kind, {
      render(tokens: any[], idx: number, _opts: unknown, env: RenderEnv) {
        const token = tokens[idx];
        if (token.nesting !== 1) return '</div></details>\n';
        const label = token.info.trim().slice(kind.length).trim() || LABELS[env.lang][kind];
        // <details> renders collapsed without any script
        return `<details class="nslab-${kind}"><summary>${md.renderInline(label)}</summary><div class="nslab-${kind}-body">\n`;
      },
    });
  }
  // `::: only <condition>`: the block exists in the HTML of hosts where the condition
  // holds and nowhere else. Dropped here, on the token stream, rather than hidden in the
  // page, so a learner never gets a run button for the other kind of host.
  md.use(container, 'only', {
    render(tokens: any[], idx: number) {
      const token = tokens[idx];
      if (token.nesting !== 1) return '</div>\n';
      return `<div class="nslab-only" data-only="${escapeHtml(String(token.meta?.condition ?? ''))}">\n`;
    },
  });
  md.core.ruler.push('nslab_only', (state) => {
    const env = state.env as unknown as RenderEnv;
    const stack: boolean[] = [];
    const kept: typeof state.tokens = [];
    for (const t of state.tokens) {
      if (t.type === 'container_only_open') {
        const line = fileLine(env, t.map);
        const words = t.info.trim().split(/\s+/).slice(1);
        let condition: string | null = null;
        if (words.length !== 1) {
          env.problems.push({ file: env.file, line, severity: 'error', message: `"::: only" takes exactly one host condition, e.g. "::: only cgroup-v2" (known: ${HOST_CONDITIONS.join(', ')})` });
        } else if (!isHostCondition(words[0])) {
          env.problems.push({ file: env.file, line, severity: 'error', message: `unknown host condition "${words[0]}" in "::: only" (known: ${HOST_CONDITIONS.join(', ')})` });
        } else {
          condition = words[0];
        }
        if (stack.length) {
          env.problems.push({ file: env.file, line, severity: 'error', message: '"::: only" inside another "::: only": conditions do not combine; close the first block before opening the next' });
        }
        // a bad block is shown nowhere: the error keeps the lesson (or translation) from being served anyway
        const keep = condition !== null && isHostCondition(condition) && holds(condition, env.host) && stack.every(Boolean);
        stack.push(keep);
        t.meta = { ...t.meta, condition };
        if (keep) kept.push(t);
        continue;
      }
      if (t.type === 'container_only_close') {
        if (stack.pop() && stack.every(Boolean)) kept.push(t);
        continue;
      }
      if (stack.length && t.type === 'container_step_open') {
        env.problems.push({ file: env.file, line: fileLine(env, t.map), severity: 'error', message: 'a step cannot be inside "::: only": every host has the same steps (graders and workshops know them by id); put the "::: only" block inside the step instead' });
      }
      if (stack.every(Boolean)) kept.push(t);
    }
    state.tokens = kept;
  });

  // `::: map <kind>` inside a step: the namespace map focuses on that kind while the
  // learner is at the step (the step list carries it, the page gets a placeholder
  // with the optional caption). docs/authoring-lessons.md, "The namespace map".
  md.use(container, 'map', {
    render(tokens: any[], idx: number, _opts: unknown, env: RenderEnv) {
      const token = tokens[idx];
      if (token.nesting !== 1) return '</div></figure>\n';
      const kind = token.meta?.kind as NsmapKind | null;
      const step = env.steps.find((st) => st.id === token.meta?.step);
      if (kind && step && !step.map) step.map = kind;
      const label = `${LABELS[env.lang].map}: ${kind ?? ''}`;
      return `<figure class="nslab-map" data-map-kind="${escapeHtml(kind ?? '')}"${step ? ` data-step="${escapeHtml(step.id)}"` : ''}><p class="nslab-map-title">${escapeHtml(label)}</p><div class="nslab-map-caption">\n`;
    },
  });
  md.core.ruler.push('nslab_map', (state) => {
    const env = state.env as unknown as RenderEnv;
    const steps: string[] = [];
    const mapped = new Map<string, number | undefined>();
    for (const t of state.tokens) {
      if (t.type === 'container_step_open') steps.push(/^step\s+(\S+)/.exec(t.info.trim())?.[1] ?? '');
      else if (t.type === 'container_step_close') steps.pop();
      else if (t.type === 'container_map_open') {
        const line = fileLine(env, t.map);
        const words = t.info.trim().split(/\s+/).slice(1);
        let kind: NsmapKind | null = null;
        if (words.length !== 1) {
          env.problems.push({ file: env.file, line, severity: 'error', message: `"::: map" takes exactly one namespace kind, e.g. "::: map ipc" (known: ${NSMAP_KINDS.join(', ')})` });
        } else if (!(NSMAP_KINDS as readonly string[]).includes(words[0])) {
          env.problems.push({ file: env.file, line, severity: 'error', message: `unknown namespace kind "${words[0]}" in "::: map" (known: ${NSMAP_KINDS.join(', ')})` });
        } else {
          kind = words[0] as NsmapKind;
        }
        const step = steps.at(-1) ?? null;
        if (step === null) {
          env.problems.push({ file: env.file, line, severity: 'error', message: '"::: map" belongs inside a step: the map focuses on the kind while the learner is at that step' });
        } else if (mapped.has(step)) {
          env.problems.push({ file: env.file, line, severity: 'error', message: `step "${step}" has a second "::: map" (the first is on line ${mapped.get(step) ?? '?'}); a step focuses the map on one kind` });
        } else if (kind) {
          mapped.set(step, line);
        }
        t.meta = { ...t.meta, kind, step };
      }
    }
  });

  for (const kind of ['note', 'warning'] as const) {
    md.use(container, kind, {
      render(tokens: any[], idx: number, _opts: unknown, env: RenderEnv) {
        const token = tokens[idx];
        if (token.nesting !== 1) return '</aside>\n';
        const label = token.info.trim().slice(kind.length).trim() || LABELS[env.lang][kind];
        return `<aside class="nslab-${kind}"><p class="nslab-aside-title">${md.renderInline(label)}</p>\n`;
      },
    });
  }
  return md;
}

let shared: Promise<LessonRenderer> | null = null;

/** One highlighter per process: loading grammars takes a while and they never change. */
export function getRenderer(): Promise<LessonRenderer> {
  shared ??= (async () => {
    const highlighter = await createHighlighter({ themes: [THEMES.light, THEMES.dark], langs: [...CODE_LANGS] });
    const md = createMarkdown(highlighter);
    return {
      render(markdown, base) {
        const env: RenderEnv = { ...base, steps: [], problems: [] };
        const html = md.render(markdown, env as unknown as Record<string, unknown>);
        return { html, steps: env.steps, problems: env.problems };
      },
    };
  })();
  return shared;
}
