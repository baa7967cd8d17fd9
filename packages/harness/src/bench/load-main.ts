/**
 * Entry of the load-generator process (started by load-generator.ts as
 * `node --import tsx load-main.ts` with an IPC channel); everything it does is in load-worker.ts.
 */
import { serveLoadJobs } from './load-worker.js';

serveLoadJobs();
