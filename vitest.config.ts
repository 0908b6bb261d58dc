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
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
