/**
 * What the benchmark and its load-generator process say to each other over the IPC channel: a job
 * with an id, and an answer with the same id. Both sides check what they receive against these
 * schemas, as at any other edge.
 */
import { z } from 'zod';
import { ERAS } from './options.js';

const count = z.number().int().min(0);
const ms = z.number().min(0);

export const wireTargetSchema = z.object({
  url: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
});

/** Sessions (2025) or agents (2026) are held in named groups between jobs. */
const group = z.string().min(1);

export const openJobSchema = z.object({
  kind: z.literal('open'),
  group,
  target: wireTargetSchema,
  era: z.enum(ERAS),
  /** Sessions to add to the group; opening stops at the first failure or after `maxMs`. */
  count,
  parallelism: z.number().int().min(1),
  /** 0: a keep-alive connection per session (as agents do); n: the group's sessions share n connections. */
  connections: count,
  maxMs: ms,
});

export const sequentialJobSchema = z.object({
  kind: z.literal('sequential'),
  group,
  warmup: count,
  calls: count,
  maxMs: ms,
});

export const concurrentJobSchema = z.object({
  kind: z.literal('concurrent'),
  group,
  /** The first `sessions` of the group call back to back. */
  sessions: z.number().int().min(1),
  durationMs: ms,
  maxCalls: count,
});

export const agentsJobSchema = z.object({
  kind: z.literal('agents'),
  /** One 2026-era call per target: each target is one agent (its own token). */
  targets: z.array(wireTargetSchema),
  parallelism: z.number().int().min(1),
  connections: z.number().int().min(1),
});

/** One call on the group's first session, to learn whether the target speaks the group's era at all. */
export const probeJobSchema = z.object({ kind: z.literal('probe'), group });

export const closeJobSchema = z.object({
  kind: z.literal('close'),
  group,
  /** Drop the connections without ending each session (DELETE): the path's processes stop next anyway. */
  forget: z.boolean().optional(),
});

export const loadJobSchema = z.discriminatedUnion('kind', [
  openJobSchema,
  sequentialJobSchema,
  concurrentJobSchema,
  agentsJobSchema,
  probeJobSchema,
  closeJobSchema,
]);
export type LoadJob = z.infer<typeof loadJobSchema>;

const outcome = {
  calls: count,
  errors: count,
  firstError: z.string().optional(),
  elapsedMs: ms,
};

export const openResultSchema = z.object({ opened: count, groupSize: count, ...outcome });
/** Calls measured, and their latencies as an encoded HDR histogram (histogram.ts). */
export const callsResultSchema = z.object({ ...outcome, recorded: count, hdrBase64: z.string() });
export const agentsResultSchema = z.object(outcome);
export const closeResultSchema = z.object({ closed: count });
/** `refused`: the answer says the target does not speak the era (wire.ts, isEraRefusal). */
export const probeResultSchema = z.object({
  ok: z.boolean(),
  refused: z.boolean(),
  error: z.string().optional(),
});

export interface LoadResults {
  open: z.infer<typeof openResultSchema>;
  sequential: z.infer<typeof callsResultSchema>;
  concurrent: z.infer<typeof callsResultSchema>;
  agents: z.infer<typeof agentsResultSchema>;
  probe: z.infer<typeof probeResultSchema>;
  close: z.infer<typeof closeResultSchema>;
}

export const RESULT_SCHEMAS = {
  open: openResultSchema,
  sequential: callsResultSchema,
  concurrent: callsResultSchema,
  agents: agentsResultSchema,
  probe: probeResultSchema,
  close: closeResultSchema,
} as const;

export const requestSchema = z.object({ id: z.number().int(), job: loadJobSchema });
/** Ends the job with this id if it is running (the benchmark no longer waits for it). */
export const cancelSchema = z.object({ cancel: z.number().int() });

export const replySchema = z.discriminatedUnion('ok', [
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.string() }),
]);
export type LoadReply = z.infer<typeof replySchema>;

/** The generator's first message: it is ready for jobs. */
export const READY = 'bench-load-ready';
