/**
 * One "session" of the load generator: an MCP client session (SDK client over Streamable HTTP) for
 * the MCP paths, or one keep-alive connection for the bare HTTP floor. Every call is checked, so a
 * path that answers quickly with errors or denials cannot pass as fast.
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ECHO_TOOL } from './servers/echo-upstream.js';

export interface BenchSession {
  /** One echo call; rejects when the answer is not the echo of what was sent. */
  call(sequence: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The SDK's HTTP client registers an abort listener per request on one long-lived signal, and
 * undici warns (MaxListenersExceededWarning) after ~1500 calls though nothing leaks: lift the cap
 * on each signal it hands to fetch.
 */
const quietFetch: typeof fetch = (input, init) => {
  if (init?.signal) setMaxListeners(0, init.signal);
  return fetch(input, init);
};

export async function openMcpSession(
  url: string,
  headers: Record<string, string> = {},
): Promise<BenchSession> {
  const client = new Client({ name: 'bastion-bench', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: quietFetch,
    requestInit: { headers },
  });
  await client.connect(transport);
  let closed = false;
  return {
    async call(sequence) {
      const text = `bench-${sequence}`;
      const result = await client.callTool({ name: ECHO_TOOL, arguments: { text } });
      const content = result.content as Array<{ type: string; text?: string }> | undefined;
      if (result.isError === true) throw new Error(`tool error: ${content?.[0]?.text ?? 'no text'}`);
      if (content?.[0]?.text !== text)
        throw new Error(`unexpected echo: ${JSON.stringify(result).slice(0, 200)}`);
    },
    async close() {
      if (closed) return;
      closed = true;
      // DELETE ends the session on the server too, so sessions do not pile up across measurements.
      await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/** One keep-alive connection POSTing a JSON-RPC-sized body that the bare server echoes. */
export function openHttpEchoSession(url: string): BenchSession {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  return {
    call(sequence) {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: sequence,
        method: 'tools/call',
        params: { name: ECHO_TOOL, arguments: { text: `bench-${sequence}` } },
      });
      return new Promise<void>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const answer = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200 || answer !== body) {
                reject(new Error(`bare echo answered ${res.statusCode} with ${answer.slice(0, 100)}`));
              } else resolve();
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}
