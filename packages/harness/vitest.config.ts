import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'harness',
    include: ['test/**/*.test.ts'],
    // Once per run: run directory, shared PKI, container tier check; and the sweep at the end.
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
