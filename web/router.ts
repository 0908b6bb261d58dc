/**
 * Hash routing (#/, #/lessons/<id>): the server only has to serve index.html at /,
 * with no fallback rules, and more pages (the instructor board) are one more entry
 * in the route table.
 */
export interface Page {
  /** leaves the DOM and every socket/timer the page owns */
  unmount(): void;
}
export type PageFactory = (root: HTMLElement, params: Record<string, string>) => Page;

interface Route { pattern: RegExp; keys: string[]; page: PageFactory }

export class Router {
  private readonly routes: Route[] = [];
  private current: Page | null = null;
  private currentPath = '';

  constructor(private readonly root: HTMLElement, private readonly notFound: PageFactory) {}

  add(path: string, page: PageFactory): this {
    const keys: string[] = [];
    const pattern = new RegExp('^' + path.replace(/:(\w+)/g, (_m, k: string) => (keys.push(k), '([^/]+)')) + '/?$');
    this.routes.push({ pattern, keys, page });
    return this;
  }

  start(): void {
    window.addEventListener('hashchange', () => this.resolve());
    this.resolve();
  }

  /** re-mount the current page, e.g. after the language changed */
  reload(): void {
    this.currentPath = '';
    this.resolve();
  }

  private resolve(): void {
    const path = location.hash.replace(/^#/, '') || '/';
    if (path === this.currentPath) return;
    this.currentPath = path;
    this.current?.unmount();
    this.root.replaceChildren();
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      this.current = r.page(this.root, params);
      return;
    }
    this.current = this.notFound(this.root, { path });
  }
}

export const href = {
  lessons: () => '#/',
  lesson: (id: string) => `#/lessons/${encodeURIComponent(id)}`,
};
