/**
 * The lesson pane: the server-rendered lesson, a step list with live check status,
 * progress, run buttons and the "lesson complete" moment.
 *
 * The lesson HTML is the only HTML we insert. It is trusted because the server renders
 * it with markdown-it's raw HTML turned off; check messages, titles and everything else
 * go in as text.
 */
import type { StepStatus } from '../../lab-server/contract/steps.ts';
import type { LessonView } from '../api.ts';
import { h, icon, richText, setChildren } from '../dom.ts';
import { getLang, LANG_NAMES, t } from '../i18n.ts';
import { href } from '../router.ts';

export type { StepStatus };
type State = StepStatus['status'];

export interface PaneCallbacks {
  run(terminal: number, command: string): void;
  /** next lesson by order, for the completion card; null when this is the last */
  nextLesson(): Promise<{ id: string; title: string } | null>;
  /** the current step changed (or the lesson was shown): its id and section; null when all passed */
  currentStep?(id: string | null, section: HTMLElement | null): void;
}

export class LessonPane {
  readonly el: HTMLElement;
  private lesson: LessonView | null = null;
  private statuses = new Map<string, StepStatus>();
  private readonly header: HTMLElement;
  private readonly stepList: HTMLOListElement;
  private readonly stepDetails: HTMLDetailsElement;
  private readonly progressText: HTMLElement;
  /** the current step's title in the sticky bar: where am I, one click to get back there */
  private readonly currentLink: HTMLButtonElement;
  private readonly progressFill: HTMLElement;
  private readonly progressBar: HTMLElement;
  private readonly content: HTMLElement;
  private readonly completeSlot: HTMLElement;
  private readonly announcer: HTMLElement;
  private wasComplete: boolean | null = null;
  private pendingAnnouncements: string[] = [];
  private readonly runTimers = new WeakMap<HTMLElement, ReturnType<typeof setTimeout>>();
  private scrollObserver: ResizeObserver | null = null;
  /** passed before the machine was reset: the state they made is gone */
  private readonly stateGone = new Set<string>();
  /** the step that passed in the update being rendered: where the learner is looking */
  private lastPassed: string | null = null;
  /** the current step last reported through cb.currentStep (undefined: none reported yet) */
  private reportedCurrent: string | null | undefined = undefined;

  constructor(private readonly cb: PaneCallbacks) {
    this.header = h('div', { class: 'lesson-head' });
    this.progressFill = h('span', { class: 'meter-fill' });
    this.progressBar = h('div', { class: 'meter meter-lg', role: 'progressbar', 'aria-valuemin': '0' }, this.progressFill);
    this.progressText = h('span', { class: 'progress-text' });
    this.currentLink = h('button', { type: 'button', class: 'current-step-link' });
    this.currentLink.addEventListener('click', () => this.focusCurrentStep());
    this.stepList = h('ol', { class: 'step-list' });
    // a long list of steps would push step 1 off the first screen: folded, it is one line
    // (the sticky bar names the current step anyway)
    this.stepDetails = h('details', { class: 'step-nav-details' },
      h('summary', null, h('h2', { id: 'step-nav-title', class: 'step-nav-title' })),
      this.stepList);
    this.completeSlot = h('div', { class: 'complete-slot' });
    this.content = h('article', { class: 'lesson-content' });
    this.content.addEventListener('click', (e) => this.onContentClick(e));
    this.announcer = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    this.el = h('div', { class: 'lesson-pane' },
      this.header,
      // only the progress stays in view while scrolling; the full step list would eat the pane
      h('div', { class: 'progress-sticky' }, this.currentLink, this.progressBar, this.progressText),
      this.completeSlot,
      h('nav', { class: 'step-nav', 'aria-labelledby': 'step-nav-title' },
        this.stepDetails,
      ),
      this.content,
      this.announcer,
    );
  }

  /** Shows a lesson (again, e.g. in another language); statuses already known are kept. */
  show(lesson: LessonView): void {
    this.lesson = lesson;
    document.title = `${lesson.title} · nslab`;
    const back = h('a', { class: 'back-link', href: href.lessons() }, icon('arrowLeft'), t('lesson.back'));
    const title = h('h1', { class: 'lesson-title', tabindex: '-1', 'data-skip-target': '' }, lesson.title);
    setChildren(this.header,
      back,
      title,
      lesson.summary ? h('p', { class: 'lesson-goal' }, h('span', { class: 'lesson-goal-label' }, t('lesson.goal')), ' ', lesson.summary) : null,
      lesson.fallback ? h('p', { class: 'callout callout-info' }, t('lesson.fallback', { lang: LANG_NAMES[getLang()] })) : null,
    );
    (this.el.querySelector('#step-nav-title') as HTMLElement).textContent = `${t('lesson.steps')} · ${lesson.steps.length}`;
    this.stepDetails.open = lesson.steps.length <= FOLD_STEPS_OVER;
    // the one trusted HTML insertion: rendered by the server with raw HTML disabled
    this.content.innerHTML = lesson.html;
    for (const b of this.content.querySelectorAll<HTMLButtonElement>('button.nslab-run')) {
      b.setAttribute('aria-label', `${b.textContent?.trim() ?? ''} — ${b.title}`);
      codeActions(b);
    }
    for (const table of this.content.querySelectorAll('table')) scrollBox(table);
    for (const code of this.content.querySelectorAll<HTMLElement>(':not(pre) > code, .nslab-code-run pre code')) keepWordsWhole(code);
    this.markScrollable();
    this.foldIntroduction();
    for (const a of this.content.querySelectorAll<HTMLAnchorElement>('a[href^="http"]')) {
      // the terminals live in this tab; a link must not navigate away from them
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
    }
    for (const section of this.content.querySelectorAll<HTMLElement>('section.nslab-step')) {
      const id = section.dataset.step ?? '';
      // a status line per step, inside the step, so the result sits next to the instructions
      section.append(h('div', { class: 'step-status', 'data-status-for': id }));
      section.tabIndex = -1;
    }
    this.wasComplete = null;
    // a new rendering (another language) is a new page for what the current step shows
    this.reportedCurrent = undefined;
    this.render();
  }

  setStatuses(steps: StepStatus[], changed: string[] = []): void {
    const before = new Map(this.statuses);
    for (const s of steps) this.statuses.set(s.id, s);
    const newlyPassed = changed.filter((id) => this.statuses.get(id)?.status === 'pass' && before.get(id)?.status !== 'pass');
    // step announcements first, so "lesson complete" (from render) is read last
    if (this.lesson) {
      for (const id of newlyPassed) {
        const i = this.lesson.steps.findIndex((s) => s.id === id);
        if (i >= 0) this.announce(t('announce.passed', { n: i + 1, title: this.lesson.steps[i].title }));
      }
    }
    this.lastPassed = newlyPassed.at(-1) ?? null;
    this.render();
    this.lastPassed = null;
    for (const id of newlyPassed) this.flash(id);
  }

  /**
   * A reset gives a fresh machine: steps passed before it stay passed, but what they made
   * (a namespace, a queue) is gone, and a later step that builds on it would fail.
   */
  machineReset(): void {
    for (const [id, st] of this.statuses) if (st.status === 'pass') this.stateGone.add(id);
    this.render();
  }

  get progress(): { done: number; total: number } {
    const total = this.lesson?.steps.length ?? 0;
    const done = this.lesson?.steps.filter((s) => this.statuses.get(s.id)?.status === 'pass').length ?? 0;
    return { done, total };
  }

  focusCurrentStep(): void {
    const id = this.currentStepId();
    const section = id ? this.content.querySelector<HTMLElement>(`section.nslab-step[data-step="${CSS.escape(id)}"]`) : null;
    if (section) {
      section.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
      section.focus({ preventScroll: true });
    } else {
      this.el.querySelector<HTMLElement>('.lesson-title')?.focus();
    }
  }

  focusTitle(): void {
    this.el.querySelector<HTMLElement>('.lesson-title')?.focus({ preventScroll: true });
  }

  focus(): void {
    this.stepDetails.open = true;
    const current = this.stepList.querySelector<HTMLElement>('[aria-current="step"] a') ?? this.el.querySelector<HTMLElement>('.lesson-title');
    current?.focus();
  }

  /** first step not passed yet; null when all passed */
  private currentStepId(): string | null {
    return this.lesson?.steps.find((s) => this.statuses.get(s.id)?.status !== 'pass')?.id ?? null;
  }

  private render(): void {
    const lesson = this.lesson;
    if (!lesson) return;
    const current = this.currentStepId();
    const { done, total } = this.progress;
    this.progressText.textContent = t('lesson.progress', { done, total });
    const currentIndex = current ? lesson.steps.findIndex((s) => s.id === current) : -1;
    this.currentLink.hidden = currentIndex < 0;
    if (currentIndex >= 0) {
      const title = lesson.steps[currentIndex].title;
      setChildren(this.currentLink,
        h('span', { class: 'visually-hidden' }, `${t('lesson.current')}: `),
        h('span', { class: 'current-step-number' }, String(currentIndex + 1)),
        h('span', { class: 'current-step-title' }, ` ${title}`));
      this.currentLink.title = `${t('lesson.current')} (Alt+S)`;
    }
    this.progressFill.style.width = total ? `${(100 * done) / total}%` : '0%';
    this.progressBar.setAttribute('aria-valuemax', String(total));
    this.progressBar.setAttribute('aria-valuenow', String(done));
    this.progressBar.setAttribute('aria-valuetext', t('lesson.progress', { done, total }));
    this.progressBar.setAttribute('aria-label', t('lesson.steps'));

    this.stepList.replaceChildren(...lesson.steps.map((step, i) => {
      const st = this.statuses.get(step.id);
      const state: State = st?.status ?? 'pending';
      const isCurrent = step.id === current;
      const link = h('a', { href: `#step-${step.id}`, class: 'step-link' },
        h('span', { class: `step-dot step-${state}`, 'aria-hidden': 'true' }, state === 'pass' ? icon('check') : state === 'fail' ? icon('cross') : String(i + 1)),
        h('span', { class: 'step-link-text' },
          h('span', { class: 'step-link-title' }, step.title),
          h('span', { class: 'visually-hidden' }, ` — ${this.isStateGone(step.id) ? t('step.passedStateGone') : stateLabel(st)}`),
          state === 'fail' && messageOf(st) ? h('span', { class: 'step-link-message' }, richText(messageOf(st)!)) : null,
        ),
      );
      // the links point at in-page ids, but the hash belongs to the router
      link.addEventListener('click', (e) => {
        e.preventDefault();
        const section = this.content.querySelector<HTMLElement>(`section.nslab-step[data-step="${CSS.escape(step.id)}"]`);
        section?.scrollIntoView({ behavior: prefersReducedMotion() ? 'auto' : 'smooth', block: 'start' });
        section?.focus({ preventScroll: true });
      });
      return h('li', { class: `step-item step-item-${state}${isCurrent ? ' is-current' : ''}${this.isStateGone(step.id) ? ' is-state-gone' : ''}`, 'aria-current': isCurrent ? 'step' : null }, link);
    }));

    for (const section of this.content.querySelectorAll<HTMLElement>('section.nslab-step')) {
      const id = section.dataset.step ?? '';
      const st = this.statuses.get(id);
      const state: State = st?.status ?? 'pending';
      section.classList.toggle('is-current', id === current);
      section.classList.toggle('is-state-gone', this.isStateGone(id));
      section.dataset.state = state;
      const line = section.querySelector<HTMLElement>(`.step-status[data-status-for="${CSS.escape(id)}"]`);
      if (line) {
        const gone = this.isStateGone(id);
        line.className = `step-status step-status-${state}${st?.error ? ' is-broken' : ''}${gone ? ' is-state-gone' : ''}`;
        setChildren(line,
          h('span', { class: 'step-status-badge' }, state === 'pass' ? icon('check') : state === 'fail' ? icon('cross') : h('span', { class: 'pulse-dot' }), st?.error ? t('step.checkBroken') : gone ? t('step.passedStateGone') : stateLabel(st)),
          gone ? this.stateGoneNote(id, st) : messageOf(st) ? h('span', { class: 'step-status-message' }, richText(messageOf(st)!)) : null,
        );
      }
    }

    // only once the statuses are known: before, "current" is step 1 for everyone
    if (this.statuses.size > 0 && current !== this.reportedCurrent) {
      this.reportedCurrent = current;
      const section = current ? this.content.querySelector<HTMLElement>(`section.nslab-step[data-step="${CSS.escape(current)}"]`) : null;
      this.cb.currentStep?.(current, section);
    }

    const complete = total > 0 && done === total;
    if (complete !== this.wasComplete) {
      // celebrate only a transition seen live; a finished lesson reopened gets the quiet card
      const celebrate = this.wasComplete === false && complete;
      this.wasComplete = complete;
      this.completeSlot.replaceChildren();
      this.content.querySelector('.complete-card')?.remove();
      if (complete) this.showComplete(celebrate);
    }
  }

  /**
   * Passed, but what the step made is gone: the machine was reset here (the pane knows),
   * or the server's check of it no longer passes (`stale`: the shell that held it exited).
   */
  private isStateGone(id: string): boolean {
    const st = this.statuses.get(id);
    return st?.status === 'pass' && (this.stateGone.has(id) || !!st.stale);
  }

  /** why the state is gone and, when the check says it, what to redo */
  private stateGoneNote(id: string, st: StepStatus | undefined): HTMLElement {
    const redo = st?.stale ? (st.stale.messages?.[getLang()] ?? st.stale.messages?.en ?? st.stale.message) : null;
    return h('span', { class: 'step-status-message' },
      this.stateGone.has(id) ? t('step.stateGone') : t('step.stale'),
      redo ? h('span', { class: 'step-redo' }, h('strong', null, t('step.redo')), ' ', richText(redo)) : null);
  }

  private showComplete(celebrate: boolean): void {
    const next = h('div', { class: 'complete-actions' },
      h('a', { class: 'button', href: href.lessons() }, t('complete.list')));
    const card = h('section', { class: `complete-card${celebrate ? ' is-celebrating' : ''}`, 'aria-labelledby': 'complete-title', tabindex: '-1' },
      celebrate ? confetti() : null,
      h('div', { class: 'complete-icon', 'aria-hidden': 'true' }, icon('trophy')),
      h('h2', { id: 'complete-title' }, t('complete.title')),
      h('p', null, t('complete.body')),
      next,
    );
    // a lesson finished live is celebrated under the step that just passed, where the learner
    // is looking; a finished lesson reopened says so at the top
    const passedHere = celebrate && this.lastPassed
      ? this.content.querySelector<HTMLElement>(`section.nslab-step[data-step="${CSS.escape(this.lastPassed)}"]`)
      : null;
    if (passedHere) passedHere.after(card);
    else this.completeSlot.append(card);
    void this.cb.nextLesson().catch(() => null).then((n) => {
      if (!card.isConnected) return;
      if (n) next.prepend(h('a', { class: 'button button-primary', href: href.lesson(n.id) }, t('complete.next', { title: n.title })));
      // into view once it has its final height, without taking focus: the learner may be typing in a terminal
      if (celebrate) card.scrollIntoView({ block: 'nearest', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
    });
    if (celebrate) this.announce(t('complete.announce'));
  }

  private onContentClick(e: MouseEvent): void {
    const target = e.target as HTMLElement;
    const copy = target.closest<HTMLButtonElement>('button.nslab-copy');
    if (copy && this.content.contains(copy)) {
      void this.copyCommand(copy);
      return;
    }
    const run = target.closest<HTMLButtonElement>('button.nslab-run');
    if (run && this.content.contains(run)) {
      const terminal = Number(run.dataset.terminal ?? '1');
      const command = run.dataset.command ?? '';
      if (!command || !Number.isInteger(terminal) || terminal < 1) return;
      this.cb.run(terminal, command);
      // run again after a reset: the note about the lost state has been acted on
      const step = run.closest<HTMLElement>('section.nslab-step')?.dataset.step;
      if (step && this.stateGone.delete(step)) this.render();
      run.classList.add('is-sent');
      const old = this.runTimers.get(run);
      if (old) clearTimeout(old);
      this.runTimers.set(run, setTimeout(() => run.classList.remove('is-sent'), 1200));
      this.announce(t('run.sending', { n: terminal }));
      return;
    }
    // in-lesson anchors (#step-x, footnotes) would otherwise be taken by the router
    const a = target.closest<HTMLAnchorElement>('a[href^="#"]');
    if (a && this.content.contains(a)) {
      e.preventDefault();
      const el = this.content.querySelector<HTMLElement>(`[id="${CSS.escape(a.getAttribute('href')!.slice(1))}"]`);
      el?.scrollIntoView({ block: 'start' });
    }
  }

  /**
   * The explanation before step 1 can be screens long; folded, the goal and step 1 are on
   * the first screen and the introduction is one click (or one Tab into it) from whole.
   * Screen readers get all of it either way: folding only clips what is drawn.
   */
  private foldIntroduction(): void {
    const first = this.content.querySelector('section.nslab-step');
    if (!first || first === this.content.firstElementChild) return;
    const intro = h('div', { class: 'lesson-intro', id: 'lesson-intro' });
    while (this.content.firstChild && this.content.firstChild !== first) intro.append(this.content.firstChild);
    const toggle = h('button', { type: 'button', class: 'intro-toggle', 'aria-expanded': 'false', 'aria-controls': 'lesson-intro' });
    const setFolded = (folded: boolean) => {
      intro.classList.toggle('is-folded', folded);
      toggle.setAttribute('aria-expanded', String(!folded));
      toggle.textContent = folded ? t('lesson.introMore') : t('lesson.introLess');
    };
    toggle.addEventListener('click', () => setFolded(!intro.classList.contains('is-folded')));
    intro.addEventListener('focusin', () => setFolded(false));
    this.content.prepend(intro, toggle);
    toggle.hidden = true;
    requestAnimationFrame(() => {
      // short introductions stay as they are
      if (intro.scrollHeight <= INTRO_FOLD_PX * 1.5) return;
      toggle.hidden = false;
      setFolded(true);
    });
  }

  private async copyCommand(button: HTMLButtonElement): Promise<void> {
    const command = button.parentElement?.querySelector<HTMLButtonElement>('button.nslab-run')?.dataset.command ?? '';
    let ok = true;
    try {
      await navigator.clipboard.writeText(command);
    } catch {
      ok = false;
    }
    button.classList.toggle('is-copied', ok);
    this.announce(ok ? t('copy.done') : t('copy.failed'));
    const old = this.runTimers.get(button);
    if (old) clearTimeout(old);
    this.runTimers.set(button, setTimeout(() => button.classList.remove('is-copied'), 1200));
  }

  /**
   * A box that scrolls must be reachable by keyboard (WCAG 2.1.1); only those that do
   * get a tab stop, and the pane's width changes with the split and the window.
   */
  private markScrollable(): void {
    this.scrollObserver ??= new ResizeObserver(() => {
      for (const box of this.content.querySelectorAll<HTMLElement>('.nslab-code:not(.nslab-code-run) pre, .table-scroll')) {
        if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
        else box.removeAttribute('tabindex');
      }
      // the float that keeps the command's first line clear of the buttons, as wide as they are
      for (const actions of this.content.querySelectorAll<HTMLElement>('.nslab-code-actions')) {
        if (actions.offsetWidth > 0) actions.parentElement?.style.setProperty('--actions-w', `${actions.offsetWidth + 10}px`);
      }
    });
    this.scrollObserver.disconnect();
    this.scrollObserver.observe(this.content);
  }

  private flash(id: string): void {
    if (!this.lesson) return;
    const item = [...this.stepList.children][this.lesson.steps.findIndex((s) => s.id === id)];
    item?.classList.add('just-passed');
    const section = this.content.querySelector<HTMLElement>(`section.nslab-step[data-step="${CSS.escape(id)}"]`);
    section?.classList.add('just-passed');
    setTimeout(() => section?.classList.remove('just-passed'), 1600);
  }

  private announce(text: string): void {
    // messages of one update are read together; clearing first makes screen readers
    // repeat a message identical to the previous one
    if (this.pendingAnnouncements.length === 0) {
      this.announcer.textContent = '';
      requestAnimationFrame(() => {
        this.announcer.textContent = this.pendingAnnouncements.join(' ');
        this.pendingAnnouncements = [];
      });
    }
    this.pendingAnnouncements.push(text);
  }
}

/**
 * A check's message in the viewer's language: the language belongs to whoever looks,
 * not to the session, so a switch re-renders earlier results in the new language too.
 */
function messageOf(st: StepStatus | undefined): string | null {
  if (!st) return null;
  return st.messages?.[getLang()] ?? st.messages?.en ?? st.message;
}

/** Run and copy side by side, above the command's first line (styles.css lets the text flow around them). */
function codeActions(run: HTMLButtonElement): void {
  const copy = h('button', { type: 'button', class: 'nslab-copy', title: t('copy.title'), 'aria-label': t('copy.title') }, icon('copy'), icon('check', 'icon icon-copied'));
  const actions = h('div', { class: 'nslab-code-actions' }, copy);
  run.replaceWith(actions);
  actions.append(run);
}

/** A wide table scrolls inside its own box instead of pushing the whole pane sideways. */
function scrollBox(table: HTMLTableElement): void {
  const box = h('div', { class: 'table-scroll', role: 'region', 'aria-label': t('lesson.table') });
  table.replaceWith(box);
  box.append(table);
}

/**
 * Code breaks only between its words (inline, and the commands of run blocks, which wrap):
 * browsers also break after a hyphen ("--⏎ipc", "-⏎t"), a slash or a bracket. A word too long for
 * any column stays breakable, or it would widen the pane.
 */
function keepWordsWhole(code: HTMLElement): void {
  const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  while (walker.nextNode()) texts.push(walker.currentNode as Text);
  for (const node of texts) {
    if (!/\S/.test(node.data)) continue;
    const parts = node.data.split(/(\s+)/).filter((p) => p !== '');
    node.replaceWith(...parts.map((p) => (/^\s+$/.test(p) || p.length > 32 ? p : h('span', { class: 'nobr' }, p))));
  }
}

/** longer step lists start folded */
const FOLD_STEPS_OVER = 3;

/** the height the introduction folds to (styles.css .lesson-intro.is-folded) */
const INTRO_FOLD_PX = 110;

function stateLabel(st: StepStatus | undefined): string {
  if (st?.status === 'pass') return t('step.passed');
  if (st?.status === 'fail') return t('step.failed');
  return t('step.pending');
}

function prefersReducedMotion(): boolean {
  return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}

function confetti(): HTMLElement {
  const wrap = h('div', { class: 'confetti', 'aria-hidden': 'true' });
  const colors = ['#7aa2ff', '#7bd88f', '#e6c36a', '#f27878', '#c792ea', '#67d4e0'];
  for (let i = 0; i < 36; i++) {
    const p = h('span', { class: 'confetti-piece' });
    p.style.left = `${(i * 97) % 100}%`;
    p.style.background = colors[i % colors.length];
    p.style.animationDelay = `${(i % 9) * 60}ms`;
    p.style.setProperty('--drift', `${((i * 37) % 80) - 40}px`);
    p.style.setProperty('--spin', `${(i * 53) % 720}deg`);
    wrap.append(p);
  }
  return wrap;
}
