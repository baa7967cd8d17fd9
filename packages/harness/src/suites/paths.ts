/** Where the harness's tests are, for the suites and the CLI (the package runs from source). */
import { join } from 'node:path';
import { EXTERNAL_FILES, type SuiteName } from './catalog.js';

/** packages/harness */
export const HARNESS_ROOT = join(import.meta.dirname, '..', '..');

export const testTargets = {
  testDir: join(HARNESS_ROOT, 'test'),
  /** The contract file that runs when `suite` is pointed at someone else's target. */
  externalFile(suite: SuiteName): string | undefined {
    const name = EXTERNAL_FILES[suite];
    return name === undefined ? undefined : join(HARNESS_ROOT, 'test', name);
  },
};
