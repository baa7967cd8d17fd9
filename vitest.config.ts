import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*'],
    // The default reporter for people; progress lines on stderr (files done of all, tests so far,
    // time, what still runs); then one plain closing line that CI reads: per-tier counts and
    // `tests: N passed, N failed, N skipped`.
    reporters: ['default', './tools/run-progress-reporter.ts', './tools/summary-reporter.ts'],
  },
});
