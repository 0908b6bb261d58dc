/** The classroom's pages, added to the app's router by web/main.ts. */
import './board.css';
import { onLangChange } from '../i18n.ts';
import type { PageFactory, Router } from '../router.ts';
import { boardPage, instructorLinkPage, instructorPage } from './instructor.ts';
import { joinPage, workshopLessonPage, workshopPage } from './learner.ts';

/**
 * Builds the page again in the new language when the language changes. What was
 * typed into its fields (by id) is carried over, so switching language mid-form
 * loses nothing.
 */
function relocalized(factory: PageFactory): PageFactory {
  return (root, params) => {
    let page = factory(root, params);
    const off = onLangChange(() => {
      const typed = new Map<string, string>();
      for (const el of root.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input[id]:not([type=checkbox]):not([type=radio]), textarea[id]')) typed.set(el.id, el.value);
      const focused = (document.activeElement as HTMLElement | null)?.id;
      page.unmount();
      root.replaceChildren();
      page = factory(root, params);
      for (const [id, value] of typed) {
        const el = root.querySelector<HTMLInputElement | HTMLTextAreaElement>(`#${CSS.escape(id)}`);
        if (el) el.value = value;
      }
      if (focused) root.querySelector<HTMLElement>(`#${CSS.escape(focused)}`)?.focus();
    });
    return { unmount() { off(); page.unmount(); } };
  };
}

export function registerClassroomRoutes(router: Router): Router {
  return router
    .add('/join', relocalized(joinPage))
    .add('/join/:code', relocalized(joinPage))
    .add('/workshop', workshopPage)
    .add('/workshop/lessons/:id', workshopLessonPage)
    .add('/instructor', relocalized(instructorPage))
    .add('/instructor/w/:code', boardPage)
    .add('/instructor/:secret', instructorLinkPage);
}
