/**
 * What test/global-setup.ts prepares once per run and hands to every test file with vitest's
 * `provide`/`inject`: the run's id and directory (see targets/run-scope.ts), the shared PKI, and the
 * result of each tier's one-time check (is the Docker engine answering, are the images there).
 */
import { inject } from 'vitest';
import type { Availability, Tier } from './tiers.js';

export interface BastionRunState {
  id: string;
  dir: string;
  /** The run's test PKI (made once), or null without openssl. */
  pkiDir: string | null;
  /** Per tier, the outcome of its one-time check; a tier with no entry was not checked. */
  preflight: Partial<Record<Tier, Availability>>;
  /**
   * The container tier's Mosquitto (BASTION_MOSQUITTO_IMAGE) as its check found it: the version
   * decides which tests it can run (0x8E on a takeover from 2.0.15 on), and tests are declared
   * before any broker starts. `version` is absent when it could not be read (`error` says why).
   */
  containerMosquitto?: { image: string; version?: number[]; error?: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    bastionRun: BastionRunState;
  }
}

/** The run's state, or undefined outside a run that has the global setup (or outside vitest). */
export function runState(): BastionRunState | undefined {
  try {
    return inject('bastionRun');
  } catch {
    return undefined;
  }
}
