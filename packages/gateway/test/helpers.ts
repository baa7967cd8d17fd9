/** Test doubles for pipeline units: a fake clock and a scripted upstream target. */
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { AuditEntry } from '../src/audit/log.js';
import type { Clock } from '../src/clock.js';
import type { CallContext, CallTarget, Principal } from '../src/pipeline/context.js';
import { parsePolicy } from '../src/policy/load.js';

export class FakeClock implements Clock {
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export interface FakeTarget extends CallTarget {
  calls: number;
}

export function fakeTarget(
  tools: string[],
  answer: () => Promise<CallToolResult> = async () => ({ content: [{ type: 'text', text: 'done' }] }),
): FakeTarget {
  const target: FakeTarget = {
    calls: 0,
    hasTool: async (name) => tools.includes(name),
    knowsTool: (name) => tools.includes(name),
    withheld: () => undefined,
    inputSchema: () => undefined,
    callTool: async () => {
      target.calls++;
      return answer();
    },
  };
  return target;
}

export function policy(document: unknown) {
  const result = parsePolicy(document);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

export function context(
  over: Partial<CallContext> & { tool: string; target: CallTarget },
  now = 0,
  /** null: no principal at all. */
  principal: Principal | null = { id: 'alice', kind: 'grant' },
): CallContext {
  return {
    requestId: 1,
    sessionId: 's1',
    server: 'mqtt',
    args: {},
    now,
    principal: principal ?? undefined,
    signal: new AbortController().signal,
    ...over,
  };
}

/** An audit row's entry, numbered `n`. */
export function entry(n: number): AuditEntry {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
    requestId: n,
    grant: 'alice',
    session: 's',
    server: 'mqtt',
    method: 'tools/call',
    tool: 'mqttPublish',
    decision: 'allow',
    rule: '/tools/mqttPublish',
    reason: 'allowed by rule',
    policyVersion: 'abc',
    argKeys: ['topic'],
    args: { topic: `t/${n}` },
    upstream: { outcome: 'ok', latencyMs: 1 },
  };
}
