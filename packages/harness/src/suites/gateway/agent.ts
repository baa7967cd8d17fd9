/**
 * The agent side of the gateway checks: an MCP session through the gateway whose every tools/call is
 * classified (admitted, denied by policy, or a JSON-RPC error) and written to a ledger, so a limit
 * check knows how much of a window the checks before it already used.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { type McpEndpointSession, openEndpoint, type TransportChoice, textOf } from '../mcp-client.js';

export const DENIED_PREFIX = '[POLICY DENIED]';

export type CallClass =
  /** The gateway let the call through (the upstream's answer, isError or not). */
  | { kind: 'admitted'; result: CallToolResult }
  /** A policy denial: isError and text beginning [POLICY DENIED]. */
  | { kind: 'denied'; result: CallToolResult; retryAfterMs: number | undefined }
  /** A JSON-RPC error: the gateway's or the upstream's, or the session is gone. */
  | { kind: 'error'; message: string };

export function isDenial(result: CallToolResult): boolean {
  return result.isError === true && textOf(result).trimStart().startsWith(DENIED_PREFIX);
}

/** retryAfterMs wherever the denial carries it (structuredContent, nested, or _meta). */
export function findRetryAfterMs(value: unknown, depth = 0): number | undefined {
  if (value === null || typeof value !== 'object' || depth > 4) return undefined;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'retryAfterMs' && typeof v === 'number' && v >= 0) return v;
  }
  for (const v of Object.values(value)) {
    const found = findRetryAfterMs(v, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function describeCall(c: CallClass): string {
  switch (c.kind) {
    case 'admitted': {
      const text = textOf(c.result).slice(0, 160);
      return c.result.isError ? `admitted (the upstream answered isError: ${text})` : `admitted (${text})`;
    }
    case 'denied':
      return `denied (${textOf(c.result).slice(0, 160)})`;
    case 'error':
      return `a JSON-RPC error (${c.message.slice(0, 160)})`;
  }
}

export interface LedgerEntry {
  tool: string;
  /** When the call was sent. */
  at: number;
  /**
   * When its answer arrived (`at` when unknown). The gateway decided somewhere in [at, doneAt], so
   * only a call whose whole span lies in one window is known to have counted in that window.
   */
  doneAt: number;
  session: number;
  kind: CallClass['kind'];
}

/** Every call the checks made, in order. */
export class CallLedger {
  readonly entries: LedgerEntry[] = [];
  record(entry: LedgerEntry): void {
    this.entries.push(entry);
  }
}

export interface GatewayEndpoint {
  url: string;
  transport: TransportChoice;
  token: string | undefined;
}

let sessions = 0;

export class GatewayAgent {
  readonly id = ++sessions;

  private constructor(
    readonly session: McpEndpointSession,
    private readonly ledger: CallLedger,
  ) {}

  static async open(endpoint: GatewayEndpoint, ledger: CallLedger): Promise<GatewayAgent> {
    const session = await openEndpoint(endpoint.url, {
      transport: endpoint.transport,
      clientName: 'bastion-gateway-checks',
      ...(endpoint.token === undefined ? {} : { token: endpoint.token }),
    });
    return new GatewayAgent(session, ledger);
  }

  listTools(): Promise<Tool[]> {
    return this.session.listTools();
  }

  async call(tool: string, args: Record<string, unknown> = {}): Promise<CallClass> {
    const at = Date.now();
    const outcome = await this.session.call(tool, args);
    let c: CallClass;
    if (outcome.kind === 'error') c = { kind: 'error', message: outcome.message };
    else if (isDenial(outcome.result)) {
      const retryAfterMs =
        findRetryAfterMs(outcome.result.structuredContent) ?? findRetryAfterMs(outcome.result._meta);
      c = { kind: 'denied', result: outcome.result, retryAfterMs };
    } else c = { kind: 'admitted', result: outcome.result };
    this.ledger.record({ tool, at, doneAt: Date.now(), session: this.id, kind: c.kind });
    return c;
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
