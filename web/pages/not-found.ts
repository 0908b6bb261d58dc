import { h } from '../dom.ts';
import { t } from '../i18n.ts';
import { href, type PageFactory } from '../router.ts';

export const notFoundPage: PageFactory = (root, params) => {
  root.append(
    h('section', { class: 'page-message' },
      h('h1', null, '404'),
      h('p', null, t('page.notFound', { path: params.path ?? '' })),
      h('a', { class: 'button button-primary', href: href.lessons() }, t('lesson.back')),
    ),
  );
  return { unmount() {} };
};
