/**
 * Entry of `pnpm bench:replicas [--quick]`: runs bench/replicas.ts and prints its table.
 * --quick: 2 s per throughput phase and 300 calls per p50 (a smoke run).
 */
import { replicasBenchTable, runReplicasBench } from './replicas.js';

const quick = process.argv.includes('--quick');
const options = quick
  ? { seconds: 2, concurrency: 32, sequentialCalls: 300 }
  : { seconds: 10, concurrency: 64, sequentialCalls: 2000 };
const result = await runReplicasBench(options);
process.stdout.write(`${replicasBenchTable(result, options)}\n`);
