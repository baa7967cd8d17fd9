import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // The default reporter for people, then one plain closing line that CI reads:
    // per-tier counts and `tests: N passed, N failed, N skipped`.
    reporters: ['default', './tools/summary-reporter.ts'],
  },
});
