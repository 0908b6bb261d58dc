import { defineConfig } from 'vite';

const labPort = Number(process.env.NSLAB_PORT ?? 8080);

// web/ is the app; `npm run dev` proxies the API and the session socket to a
// running lab server (`npm run serve`).
export default defineConfig({
  root: 'web',
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: {
    proxy: {
      // a regexp, not a prefix: the app's own module /api.ts must not go to the lab server
      '^/api/': { target: `http://127.0.0.1:${labPort}`, ws: true },
      '/healthz': `http://127.0.0.1:${labPort}`,
    },
  },
});
