import type { Requirement } from './types.js';

const item17 = 'issue 14, item 17 (fuzzing in CI)';

/** What a bounded, seeded fuzz run of every HTTP host (test/fuzz-http.test.ts) holds it to. */
export const fuzzRequirements: Requirement[] = [
  {
    id: 'fuzz.http.no-5xx',
    statement:
      'answers thousands of malformed, deeply nested, oversized and oddly headed requests on every endpoint without a 5xx or a dropped connection',
    source: item17,
  },
  {
    id: 'fuzz.http.alive',
    statement:
      'is still running after the fuzz run (and so is what it depends on) and answers a valid session',
    source: item17,
  },
];
