import { api, ApiError, storedSession, type LessonSummary, type SelfProgress } from '../api.ts';
import { h, icon } from '../dom.ts';
import { getLang, onLangChange, t } from '../i18n.ts';
import { recalledProgress } from '../progress.ts';
import { href, type PageFactory } from '../router.ts';
import { classroomApi, classroomHref, learnerToken } from '../board/client.ts';
import { ct } from '../board/strings.ts';

export const lessonListPage: PageFactory = (root) => {
  document.title = `${t('list.title')} · nslab`;
  const body = h('div', { class: 'lesson-grid-wrap' });
  const heading = h('h1', { class: 'hero-title', tabindex: '-1', 'data-skip-target': '' });
  const intro = h('p', { class: 'hero-intro' });
  // a workshop learner who came to the site root: their workshop is what they want
  const workshopSlot = h('div', { class: 'workshop-slot' });
  root.append(h('section', { class: 'page page-lessons' }, h('div', { class: 'hero' }, heading, intro), workshopSlot, body));

  let generation = 0;
  /** what the server keeps for this browser; null on a server without self-paced progress */
  let saved: SelfProgress | null = null;
  /** every lesson's title by id, to name the lessons a card requires */
  let titles = new Map<string, string>();
  const duration = (minutes: number) => minutes < 60
    ? t('list.minutes', { n: minutes })
    : t('list.hours', { h: Math.floor(minutes / 60), m: minutes % 60 });
  async function load(): Promise<void> {
    const mine = ++generation;
    document.title = `${t('list.title')} · nslab`;
    heading.textContent = t('list.title');
    intro.textContent = t('list.intro');
    body.replaceChildren(h('p', { class: 'muted loading', role: 'status' }, t('list.loading')));
    void offerWorkshop(mine);
    let lessons: LessonSummary[];
    try {
      [lessons, saved] = await Promise.all([api.lessons(getLang()), api.selfProgress()]);
    } catch (e) {
      if (mine !== generation) return;
      const retry = h('button', { type: 'button', class: 'button' }, t('retry'));
      retry.addEventListener('click', () => void load());
      body.replaceChildren(h('div', { class: 'callout callout-error', role: 'alert' },
        h('p', null, t('list.error', { msg: e instanceof ApiError ? e.message : String(e) })), retry));
      return;
    }
    if (mine !== generation) return;
    if (lessons.length === 0) {
      body.replaceChildren(h('p', { class: 'muted' }, t('list.empty')));
      return;
    }
    lessons.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
    titles = new Map(lessons.map((l) => [l.id, l.title]));
    const total = lessons.reduce((sum, l) => sum + l.minutes, 0);
    intro.textContent = `${t('list.intro')} ${t('list.path', { n: lessons.length, time: duration(total) })}`;
    body.replaceChildren(h('ol', { class: 'lesson-grid' }, lessons.map((l, i) => card(l, i + 1))));
  }

  async function offerWorkshop(mine: number): Promise<void> {
    const token = learnerToken();
    if (!token) return;
    const v = await classroomApi.me(token).catch(() => null);
    if (mine !== generation || !v || v.workshop.closed) return;
    workshopSlot.replaceChildren(h('div', { class: 'callout workshop-offer', role: 'status' },
      h('p', null, h('strong', null, ct('home.workshop', { title: v.workshop.title })), ' ', ct('home.workshopBody')),
      h('a', { class: 'button button-primary', href: classroomHref.workshop() }, ct('home.toWorkshop'))));
  }

  function card(l: LessonSummary, n: number): HTMLElement {
    // the server's record is the truth ("Continue" continues exactly that); this
    // browser's memory only stands in on a server that keeps none
    const mine = saved?.lessons[l.id];
    const progress = saved ? (mine && mine.passed > 0 ? { done: mine.passed, total: mine.total } : null) : recalledProgress(l.id);
    const started = progress !== null || (saved ? !!mine?.live : storedSession(l.id) !== null);
    const complete = progress !== null && progress.done >= progress.total;
    const titleId = `lesson-card-${l.id}`;
    return h('li', { class: `lesson-card${complete ? ' is-complete' : ''}` },
      h('a', { class: 'lesson-card-link', href: href.lesson(l.id) },
        h('div', { class: 'lesson-card-top' },
          h('span', { class: 'lesson-card-number', 'aria-hidden': 'true' }, String(n).padStart(2, '0')),
          h('span', { class: 'lesson-card-minutes' }, icon('clock'), t('list.minutes', { n: l.minutes })),
        ),
        h('h2', { class: 'lesson-card-title', id: titleId }, l.title),
        h('p', { class: 'lesson-card-summary' }, l.summary),
        l.requires.length
          ? h('p', { class: 'lesson-card-requires' }, icon('arrow-right'), t('list.after', { titles: l.requires.map((id) => titles.get(id) ?? id).join(', ') }))
          : null,
        h('div', { class: 'lesson-card-bottom' },
          progress && progress.done > 0
            ? h('span', { class: 'lesson-card-progress' },
              meter(progress.done / progress.total),
              t('lesson.progress', { done: progress.done, total: progress.total }))
            : h('span'),
          h('span', { class: 'lesson-card-cta' }, complete ? icon('check') : icon('play'), started ? t('list.continue') : t('list.start')),
        ),
      ),
    );
  }

  function meter(fraction: number): HTMLElement {
    const fill = h('span', { class: 'meter-fill' });
    // CSSOM writes are allowed under a strict CSP where style attributes are not
    fill.style.width = `${Math.round(100 * Math.min(1, fraction))}%`;
    return h('span', { class: 'meter', 'aria-hidden': 'true' }, fill);
  }

  const offLang = onLangChange(() => void load());
  void load();
  heading.focus({ preventScroll: true });
  return {
    unmount() {
      generation++;
      offLang();
    },
  };
};
