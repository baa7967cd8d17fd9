/**
 * One 2026-07-28 request over Streamable HTTP, written out as the spec's binding has it, for what no
 * official client sends yet (the tasks extension: the v2 SDK 2.4.0 has no tasks). The answer is read
 * from a JSON body or from the event stream, whichever the server chose.
 */
import { randomInt } from 'node:crypto';
import { TASKS_EXTENSION } from '@bastion/mcp-http';

export { TASKS_EXTENSION };

export interface ModernAnswer {
  status: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

export interface ModernRequest {
  url: string;
  token: string;
  method: string;
  params: Record<string, unknown>;
  /** The per-request client capabilities (default: the tasks extension declared). */
  capabilities?: Record<string, unknown>;
  /** The Mcp-Name header (default: params.taskId, else params.name). */
  name?: string;
}

export async function modernRpc(r: ModernRequest): Promise<ModernAnswer> {
  const id = randomInt(1, 1_000_000);
  const name = r.name ?? (r.params.taskId as string | undefined) ?? (r.params.name as string | undefined);
  const response = await fetch(r.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${r.token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': r.method,
      ...(name === undefined ? {} : { 'mcp-name': name }),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: r.method,
      params: {
        ...r.params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': r.capabilities ?? {
            extensions: { [TASKS_EXTENSION]: {} },
          },
        },
      },
    }),
  });
  const text = await response.text();
  const message = response.headers.get('content-type')?.startsWith('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => JSON.parse(line.slice(5)))
        .find((m) => m.id === id)
    : JSON.parse(text);
  return { status: response.status, result: message?.result, error: message?.error };
}
