import '@xterm/xterm/css/xterm.css';
import './cjk-fonts.css';
import './styles.css';
import { h, icon } from './dom.ts';
import { reshapeTextWhenFontsLoad } from './fonts.ts';
import { getLang, LANG_NAMES, LANGS, onLangChange, setLang, t, isLang } from './i18n.ts';
import { getTheme, initTheme, onThemeChange, setTheme } from './theme.ts';
import { href, Router } from './router.ts';
import { lessonListPage } from './pages/lessons.ts';
import { lessonPage } from './pages/lesson.ts';
import { notFoundPage } from './pages/not-found.ts';
import { openShortcuts } from './shortcuts.ts';
import { registerClassroomRoutes } from './board/routes.ts';

initTheme();
reshapeTextWhenFontsLoad();
document.documentElement.lang = getLang();

const app = document.getElementById('app')!;

function header(): HTMLElement {
  const skip = h('a', { class: 'skip-link', href: '#main' });
  // the hash is the router's, so the skip link moves focus itself instead of navigating
  skip.addEventListener('click', (e) => {
    e.preventDefault();
    (document.querySelector<HTMLElement>('[data-skip-target]') ?? document.getElementById('main'))?.focus();
  });
  const brand = h('a', { class: 'brand', href: href.lessons() },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, icon('prompt')),
    h('span', { class: 'brand-name' }, 'nslab'),
  );
  const tagline = h('span', { class: 'brand-tagline' });
  const langLabel = h('label', { class: 'visually-hidden', for: 'lang-select' });
  const langSelect = h('select', { id: 'lang-select', class: 'lang-select' },
    LANGS.map((l) => h('option', { value: l, lang: l }, LANG_NAMES[l])),
  );
  langSelect.value = getLang();
  langSelect.addEventListener('change', () => {
    if (isLang(langSelect.value)) setLang(langSelect.value);
  });
  const themeBtn = h('button', { class: 'icon-button', type: 'button' });
  themeBtn.addEventListener('click', () => setTheme(getTheme() === 'dark' ? 'light' : 'dark'));
  const keysBtn = h('button', { class: 'icon-button', type: 'button' }, icon('keyboard'));
  keysBtn.addEventListener('click', () => openShortcuts());

  const paint = () => {
    skip.textContent = t('skip.main');
    tagline.textContent = t('app.tagline');
    langLabel.textContent = t('lang.label');
    const dark = getTheme() === 'dark';
    themeBtn.replaceChildren(icon(dark ? 'sun' : 'moon'));
    themeBtn.setAttribute('aria-label', t(dark ? 'theme.toLight' : 'theme.toDark'));
    themeBtn.title = themeBtn.getAttribute('aria-label')!;
    keysBtn.setAttribute('aria-label', t('shortcuts.open'));
    keysBtn.title = t('shortcuts.open');
  };
  paint();
  onLangChange(paint);
  onThemeChange(paint);

  return h('header', { class: 'topbar' },
    skip,
    h('div', { class: 'topbar-left' }, brand, tagline),
    h('div', { class: 'topbar-right' },
      h('span', { class: 'lang-switch' }, icon('globe'), langLabel, langSelect),
      keysBtn,
      themeBtn,
    ),
  );
}

const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
app.replaceChildren(header(), main);

// the classroom (docs/classroom.md): join, workshop, instructor and board pages
registerClassroomRoutes(new Router(main, notFoundPage)
  .add('/', lessonListPage)
  .add('/lessons/:id', lessonPage)
  ).start();
