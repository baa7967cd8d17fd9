/** One behaviour the harness checks: a stable id, a one-line statement, and where it comes from. */
export interface Requirement {
  /** Dotted id: `<suite>.<area>.<behaviour>`, e.g. `gateway.deny.default`. */
  id: string;
  statement: string;
  /** Where the requirement comes from: POLICY.md, the MCP spec, the MQTTX server's contract, an issue. */
  source: string;
}

export type Suite = 'mqtt' | 'ssh' | 'gateway' | 'reconnect' | 'http';
