/**
 * Learner pages: join (code + name), the workshop (its lessons in order with the
 * learner's progress), and a workshop lesson (the regular lesson page, with the
 * session coming from the learner's seat in the workshop).
 */
import { api, ApiError, SessionEnding, setSessionProvider, storeSession } from '../api.ts';
import { h, icon, setChildren } from '../dom.ts';
import { onLangChange } from '../i18n.ts';
import { lessonPage } from '../pages/lesson.ts';
import type { PageFactory } from '../router.ts';
import type { LearnerView } from '../../lab-server/contract/classroom-api.ts';
import { classroomApi, classroomHref, learnerToken, setLearnerToken } from './client.ts';
import { ct, locale } from './strings.ts';
import { localizeLearnerView, localTitles } from './titles.ts';

const errorText = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

export const joinPage: PageFactory = (root, params) => {
  document.title = `${ct('join.title')} · nslab`;
  const code = h('input', { id: 'join-code', name: 'code', class: 'cr-input cr-code-input', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: 9, required: true, value: params.code ?? '' });
  const name = h('input', { id: 'join-name', name: 'name', class: 'cr-input', autocomplete: 'nickname', maxlength: 40, required: true });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, ct('join.submit'));
  const error = h('p', { class: 'cr-error', role: 'alert' });
  const form = h('form', { class: 'cr-card cr-join' },
    h('h1', { tabindex: '-1', 'data-skip-target': '' }, ct('join.title')),
    h('p', { class: 'muted' }, ct('join.intro')),
    h('label', { for: 'join-code' }, ct('join.code')), code,
    h('label', { for: 'join-name' }, ct('join.name')), name,
    error,
    h('div', { class: 'cr-actions' }, submit),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit.disabled = true;
    submit.textContent = ct('join.joining');
    error.textContent = '';
    classroomApi.join(code.value, name.value).then((r) => {
      setLearnerToken(r.token);
      location.hash = classroomHref.workshop();
    }, (err: unknown) => {
      // the refusals a learner acts on themselves: said in their language, with the way on
      const code = err instanceof ApiError ? err.code : null;
      if (code === 'workshop-closed' || code === 'workshop-ended') {
        error.replaceChildren(ct('join.closed'), ' ', h('a', { href: '#/' }, ct('ended.selfPaced')));
      } else {
        error.textContent = code === 'name-taken' ? ct('join.nameTaken') : code === 'unknown-code' ? ct('join.unknownCode') : errorText(err);
      }
      submit.disabled = false;
      submit.textContent = ct('join.submit');
    });
  });
  root.append(h('section', { class: 'page cr-page' }, form));
  (params.code ? name : code).focus();
  // someone who already joined this workshop in this browser (the join link clicked
  // again, a reopened tab) goes back to their own seat instead of joining twice
  const existing = learnerToken();
  if (existing && params.code) {
    classroomApi.me(existing).then((v) => {
      if (v.workshop.code === params.code.toUpperCase().replace(/[\s-]/g, '')) location.hash = classroomHref.workshop();
    }, () => { /* not valid any more: join normally */ });
  }
  return { unmount() {} };
};

function progressBar(passed: number, total: number): HTMLElement {
  const pct = total ? Math.round((passed / total) * 100) : 0;
  return h('div', { class: 'cr-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': passed },
    h('div', { class: 'cr-progress-fill', style: `width:${pct}%` }));
}

export const workshopPage: PageFactory = (root) => {
  const body = h('section', { class: 'page cr-page' }, h('p', { class: 'muted', role: 'status' }, ct('ws.loading')));
  root.append(body);
  let disposed = false;
  const token = learnerToken();

  const render = (v: LearnerView) => {
    document.title = `${v.workshop.title} · nslab`;
    const firstOpen = v.lessons.findIndex((l) => l.passed < l.total);
    setChildren(body,
      h('div', { class: 'cr-ws-head' },
        h('h1', { tabindex: '-1', 'data-skip-target': '' }, v.workshop.title),
        h('p', { class: 'muted' }, ct('ws.as', { name: v.learner.name }), v.workshop.endsAt ? [' · ', ct('ws.ends', { time: new Date(v.workshop.endsAt).toLocaleString(locale()) })] : null),
      ),
      v.workshop.closed ? h('div', { class: 'callout', role: 'status' }, h('p', null, ct('ws.closed')), h('a', { class: 'button', href: '#/' }, ct('ended.selfPaced'))) : null,
      v.queuePosition ? h('div', { class: 'callout callout-warn', role: 'status' }, h('strong', null, ct('queue.title')), ' ', ct('queue.body', { position: v.queuePosition })) : null,
      h('h2', null, ct('ws.lessons')),
      h('ol', { class: 'cr-lessons' }, v.lessons.map((l, i) => {
        const done = l.total > 0 && l.passed === l.total;
        const label = done ? ct('ws.review') : l.passed > 0 || v.session?.lesson === l.id ? ct('ws.continue') : ct('ws.start');
        return h('li', { class: `cr-lesson${done ? ' is-done' : ''}${i === firstOpen ? ' is-next' : ''}`, 'data-lesson': l.id },
          h('div', { class: 'cr-lesson-main' },
            h('span', { class: 'cr-lesson-num' }, String(i + 1).padStart(2, '0')),
            h('div', null, h('strong', null, l.title), h('div', { class: 'muted small' }, done ? ct('ws.done') : ct('ws.steps', { passed: l.passed, total: l.total }))),
          ),
          progressBar(l.passed, l.total),
          v.workshop.closed ? null : h('a', { class: `button${i === firstOpen ? ' button-primary' : ''}`, href: classroomHref.lesson(l.id) }, label),
        );
      })),
      v.session ? leaveButton() : null,
      h('p', null, h('a', { href: classroomHref.join() }, ct('ws.joinOther'))),
    );
  };

  /** frees the learner's machine for someone in the queue; progress stays */
  const leaveButton = () => {
    const b = h('button', { type: 'button', class: 'button button-ghost', 'data-leave': '' }, ct('ws.leave'));
    b.addEventListener('click', () => {
      b.disabled = true;
      classroomApi.leave(token!).then(load, (e: unknown) => { b.disabled = false; alert(errorText(e)); });
    });
    return h('p', { class: 'cr-leave' }, b, h('span', { class: 'muted small' }, ' ', ct('ws.leaveHint')));
  };

  const load = () => {
    if (!token) {
      body.replaceChildren(h('div', { class: 'cr-card' }, h('p', null, ct('ws.notJoined')), h('a', { class: 'button button-primary', href: classroomHref.join() }, ct('join.title'))));
      return;
    }
    classroomApi.me(token).then(async (v) => {
      const titles = await localTitles(v.lessons.map((l) => l.id));
      if (!disposed) render(localizeLearnerView(v, titles));
    }, (e: unknown) => {
      if (disposed) return;
      if (e instanceof ApiError && e.status === 401) { setLearnerToken(null); return load(); }
      body.replaceChildren(h('div', { class: 'callout callout-error', role: 'alert' }, ct('common.error', { msg: errorText(e) })));
    });
  };
  load();
  const off = onLangChange(load);
  // queue position and progress move while the page is open
  const timer = setInterval(() => { if (token && !document.hidden) load(); }, 10_000);
  return { unmount() { disposed = true; off(); clearInterval(timer); } };
};

/**
 * A workshop lesson: the shared lesson page, with its session taken from the
 * workshop (setSessionProvider). While the lab is full the provider waits in the
 * admission queue and this page shows the learner's place in line.
 */
export const workshopLessonPage: PageFactory = (root, params) => {
  const lessonId = params.id;
  const token = learnerToken();
  if (!token) {
    location.hash = classroomHref.join();
    return { unmount() {} };
  }
  let disposed = false;
  const backLabel = h('span', null, ct('back.workshop'));
  const strip = h('div', { class: 'cr-strip' },
    h('a', { class: 'button button-ghost', href: classroomHref.workshop() }, icon('arrowLeft'), ' ', backLabel));
  const offLang = onLangChange(() => { backLabel.textContent = ct('back.workshop'); });
  const message = h('div', { class: 'cr-strip-msg', role: 'status', 'aria-live': 'polite' });
  strip.append(message);
  const host = h('div', { class: 'cr-lesson-host' });
  root.append(strip, host);

  // the lesson page re-attaches to a stored session first; the workshop decides instead
  storeSession(lessonId, null);
  setSessionProvider(async (lesson, lang) => {
    for (;;) {
      if (disposed) throw new ApiError('left the page', 0);
      let r;
      try {
        r = await classroomApi.openLesson(token, lesson, lang);
      } catch (e) {
        // the workshop is over: no machine will come, whatever the learner retries
        if (e instanceof ApiError && (e.code === 'workshop-closed' || e.code === 'workshop-ended')) {
          throw new SessionEnding(ct(e.code === 'workshop-closed' ? 'ended.closed.title' : 'ended.ended.title'), ct('ended.closed.body'), { label: ct('ended.toWorkshop'), href: classroomHref.workshop() });
        }
        throw e;
      }
      if (r.state === 'ready') {
        message.replaceChildren();
        message.classList.remove('is-warn');
        if (r.notice) {
          message.textContent = ct(r.notice.afterRestart ? 'notice.restart' : 'notice.fresh', { passed: r.notice.passedSteps });
          message.classList.add('is-info');
        }
        const info = await api.session(r.session.id, r.session.token);
        return { ...(info as object), id: r.session.id, token: r.session.token } as Awaited<ReturnType<typeof api.createSession>>;
      }
      message.className = 'cr-strip-msg is-warn';
      message.replaceChildren(h('strong', null, ct('queue.title')), ' ', ct('queue.body', { position: r.position }));
      await new Promise((res) => setTimeout(res, Math.max(1, r.retryAfterSeconds) * 1000));
    }
  });
  const page = lessonPage(host, { id: lessonId });

  // Inside a workshop, "all lessons" means the workshop and "next lesson" means the
  // workshop's next lesson: a link to the public list or a public lesson page would
  // start an anonymous session whose progress the instructor never sees.
  const redirect = (e: MouseEvent) => {
    const a = (e.target as Element | null)?.closest?.('a[href^="#/"]') as HTMLAnchorElement | null;
    if (!a || a.target === '_blank' || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const to = a.getAttribute('href')!;
    if (to !== '#/' && !to.startsWith('#/lessons/')) return;
    e.preventDefault();
    if (to === '#/') { location.hash = classroomHref.workshop(); return; }
    void classroomApi.me(token).then((v) => {
      const i = v.lessons.findIndex((l) => l.id === lessonId);
      const next = v.lessons.slice(i + 1).find((l) => l.passed < l.total) ?? v.lessons.find((l) => l.passed < l.total && l.id !== lessonId);
      location.hash = next ? classroomHref.lesson(next.id) : classroomHref.workshop();
    }, () => { location.hash = classroomHref.workshop(); });
  };
  host.addEventListener('click', redirect, true);
  return {
    unmount() {
      host.removeEventListener('click', redirect, true);
      offLang();
      disposed = true;
      setSessionProvider(null);
      page.unmount();
    },
  };
};
