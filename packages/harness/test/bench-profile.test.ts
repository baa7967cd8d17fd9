import { describe, expect, it } from 'vitest';
import { packageOf, renderProfileMarkdown, summarizeProfile } from '../src/bench/profile.js';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9, columnNumber: 0 });

/** root -> callTool (gateway) -> ReadableStream (Node core); root -> (idle); root -> (garbage collector). */
const profile = {
  startTime: 0,
  endTime: 10_000,
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
    {
      id: 2,
      callFrame: frame('callTool', 'file:///repo/packages/gateway/src/proxy/session.ts'),
      children: [3],
    },
    { id: 3, callFrame: frame('ReadableStream', 'node:internal/webstreams/readablestream') },
    { id: 4, callFrame: frame('(idle)', '') },
    { id: 5, callFrame: frame('(garbage collector)', '') },
  ],
  // timeDeltas[i] is the time since the sample before; a sample lasts until the next one.
  samples: [3, 3, 2, 4, 4, 5, 3],
  timeDeltas: [0, 1000, 2000, 1000, 2000, 3000, 1000],
};

describe('the CPU profile summary', () => {
  const summary = summarizeProfile(profile, 'p.cpuprofile');

  it('adds up self time per function and leaves idle time out of the percentages', () => {
    expect(summary.totalMs).toBe(10);
    expect(summary.idleMs).toBe(5);
    expect(summary.functions).toEqual([
      { name: 'ReadableStream node:internal/webstreams/readablestream:10', selfMs: 3, selfPercent: 60 },
      { name: 'callTool packages/gateway/src/proxy/session.ts:10', selfMs: 1, selfPercent: 20 },
      { name: '(garbage collector)', selfMs: 1, selfPercent: 20 },
    ]);
  });

  it('charges Node core work to the nearest caller outside Node core', () => {
    expect(summary.owners).toEqual([
      { name: 'packages/gateway/src/proxy/session.ts', selfMs: 4, selfPercent: 80 },
    ]);
    expect(summary.packages.map((p) => p.name)).toEqual([
      'node core',
      '@bastion/gateway',
      '(garbage collector)',
    ]);
  });

  it('names packages from pnpm paths, scoped or not, and workspace sources', () => {
    expect(packageOf('file:///r/node_modules/.pnpm/zod@4.1.0/node_modules/zod/v4/core/schemas.js')).toBe(
      'zod',
    );
    expect(
      packageOf('file:///r/node_modules/.pnpm/x/node_modules/@modelcontextprotocol/sdk/dist/esm/a.js'),
    ).toBe('@modelcontextprotocol/sdk');
    expect(packageOf('file:///r/packages/mcp-http/src/host.ts')).toBe('@bastion/mcp-http');
    expect(packageOf('node:internal/streams/readable')).toBe('node core');
  });

  it('renders the three tables in Markdown', () => {
    const md = renderProfileMarkdown(summary);
    expect(md).toContain('#### CPU profile p.cpuprofile');
    expect(md).toContain('| @bastion/gateway | 1 | 20 |');
    expect(md).toContain('| packages/gateway/src/proxy/session.ts | 4 | 80 |');
    expect(md).toContain('| `ReadableStream node:internal/webstreams/readablestream:10` | 3 | 60 |');
  });
});
