/** The classroom's pages, added to the app's router by web/main.ts. */
import './board.css';
import type { Router } from '../router.ts';
import { boardPage, instructorLinkPage, instructorPage } from './instructor.ts';
import { joinPage, workshopLessonPage, workshopPage } from './learner.ts';

export function registerClassroomRoutes(router: Router): Router {
  return router
    .add('/join', joinPage)
    .add('/join/:code', joinPage)
    .add('/workshop', workshopPage)
    .add('/workshop/lessons/:id', workshopLessonPage)
    .add('/instructor', instructorPage)
    .add('/instructor/w/:code', boardPage)
    .add('/instructor/:secret', instructorLinkPage);
}
