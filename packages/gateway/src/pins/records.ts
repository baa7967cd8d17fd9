/**
 * Tool pins as they are kept, in the shared store and in the lock file alike, validated with zod
 * whenever they are read back.
 */
import { z } from 'zod';

export const pinSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  definition: z.looseObject({ name: z.string() }),
  acceptedAt: z.string(),
  acceptedBy: z.string(),
});

/** One server's pins: tool name -> pin, with a revision that grows with every accepted change. */
export const pinSetSchema = z.object({
  revision: z.number().int().nonnegative(),
  tools: z.record(z.string(), pinSchema),
});

/** A definition the upstream offers that its pins do not cover: withheld until someone accepts it. */
export const proposalSchema = z.object({
  server: z.string(),
  tool: z.string(),
  kind: z.enum(['new', 'changed']),
  sha256: z.string(),
  definition: z.looseObject({ name: z.string() }),
  firstSeen: z.string(),
  /** A pinned tool the upstream no longer lists whose definition is the same but for the name. */
  renamedFrom: z.string().optional(),
});

/** The lock file `bastion-gateway pin` writes and the gateway keeps current. */
export const lockFileSchema = z.object({
  $comment: z.string().optional(),
  version: z.literal(1),
  servers: z.record(z.string(), pinSetSchema),
});

export type Pin = z.infer<typeof pinSchema>;
export type PinSet = z.infer<typeof pinSetSchema>;
export type Proposal = z.infer<typeof proposalSchema>;
export type LockFile = z.infer<typeof lockFileSchema>;
