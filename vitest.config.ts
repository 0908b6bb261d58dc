import { defineConfig } from 'vitest/config';

// Sandbox, lesson and e2e tests run real namespaces, a real server and a real
// browser: generous hook/test timeouts are about slow machines, not assertions.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/soak runs its short version here; `npm run soak` (NSLAB_SOAK=full) the long one.
    // test/systemd installs and starts a systemd unit: only in the VM booted with
    // systemd (npm run test:vm:systemd, docs/vm.md)
    exclude: ['node_modules/**', ...(process.env.NSLAB_VM_SYSTEMD === '1' ? [] : ['test/systemd/**'])],
    // A test that fails runs once more. Two full runs of the merged tree of 2026-12-05
    // each had one different failure that passes alone (a pooled sandbox gone before its
    // first terminal, test/server/terminals.test.ts; an exec's output empty,
    // test/sandbox/namespace-map.test.ts "nests pid and user namespaces"): cross-file
    // interference under two workers, not found yet. The reporter lists every test that
    // needed the retry: each one is a bug to chase, not a pass to forget.
    retry: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
