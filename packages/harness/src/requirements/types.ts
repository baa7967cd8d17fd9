/**
 * The protocol eras a requirement can be verified in, named by the spec revision whose wire each
 * one speaks: 2025-11-25 (initialize, sessions) and 2026-07-28 (stateless, per-request `_meta`).
 * Passing on one wire says nothing about the other, so an era-bound requirement is verified once
 * per era.
 */
export const ERAS = ['2025-11-25', '2026-07-28'] as const;
export type Era = (typeof ERAS)[number];

/** One behaviour the harness checks: a stable id, a one-line statement, and where it comes from. */
export interface Requirement {
  /** Dotted id: `<suite>.<area>.<behaviour>`, e.g. `gateway.deny.default`. */
  id: string;
  statement: string;
  /** Where the requirement comes from: POLICY.md, the MCP spec, the MQTTX server's contract, an issue. */
  source: string;
  /**
   * The eras it must be verified in, each on its own: tests cite it as `verifies(id, { era })`, and
   * the coverage test wants every (id, era) pair cited. Absent: one behaviour whatever the era,
   * cited as `verifies(id)`.
   */
  eras?: ReadonlyArray<Era>;
}

export type Suite = 'mqtt' | 'ssh' | 'gateway' | 'reconnect' | 'http' | 'conformance' | 'replicas';
