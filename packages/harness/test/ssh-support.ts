/**
 * Fixtures of the SSH suites: the SSH MCP server (in process, real SDK client over InMemoryTransport)
 * with its pino output captured for the secret-leak check, and a typed tool-call helper that also
 * keeps every result for the same check.
 */
import { errorDataOf } from '@bastion/mcp-http/kit';
import {
  createSshServer,
  createSshServerShared,
  parseConfig,
  type SshServerConfigInput,
  type SshServerShared,
} from '@bastion/ssh-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { type Logger, pino } from 'pino';
import { waitFor } from '../src/suites/wait.js';
import type { SshHostTarget } from '../src/targets/ssh/index.js';

/** A pino logger at trace level whose output is kept in memory. */
export class LogCapture {
  private readonly chunks: string[] = [];
  readonly logger: Logger = pino({ level: 'trace' }, { write: (line: string) => this.chunks.push(line) });

  text(): string {
    return this.chunks.join('');
  }
}

/** Everything tool calls returned, for the check that no secret ever appears in a result. */
export const resultsSeen: string[] = [];

export interface ToolResult<T = Record<string, unknown>> {
  isError: boolean;
  text: string;
  structured: T;
}

export async function callTool<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  onprogress?: (progress: Progress) => void,
): Promise<ToolResult<T>> {
  const result = (await client.callTool(
    { name, arguments: args },
    undefined,
    onprogress === undefined ? {} : { onprogress },
  )) as CallToolResult;
  resultsSeen.push(JSON.stringify(result));
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
  // An error keeps its code and details in _meta (the server kit's convention): read both places.
  const structured = { ...(result.structuredContent ?? {}), ...errorDataOf(result as never) };
  return { isError: result.isError === true, text, structured: structured as T };
}

export interface SshServerUnderTest {
  shared: SshServerShared;
  /** A new MCP session (client) on this server. */
  session(): Promise<Client>;
  close(): Promise<void>;
}

/** An SSH MCP server; sessions share host-key trust, as the HTTP server's sessions do. */
export async function startSshMcpServer(
  input: SshServerConfigInput,
  logs: LogCapture,
): Promise<SshServerUnderTest> {
  const config = parseConfig(input);
  const shared = await createSshServerShared(config);
  const open: Array<{ client: Client; close(): Promise<void> }> = [];
  let sessions = 0;
  return {
    shared,
    async session() {
      const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
      const session = createSshServer(config, { logger: logs.logger, shared, sessionId: `s${++sessions}` });
      await session.server.connect(serverTransport);
      const client = new Client({ name: 'ssh-test', version: '1.0.0' });
      await client.connect(clientTransport);
      open.push({ client, close: () => session.close() });
      return client;
    },
    async close() {
      for (const s of open.splice(0)) {
        await s.client.close();
        await s.close();
      }
    },
  };
}

export type Login = 'password' | 'key';

/** connect arguments for a target's login, with the host key pinned unless told otherwise. */
export function connectArgs(
  target: SshHostTarget,
  login: Login,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = { host: target.host, port: target.port, hostFingerprint: target.hostKey.fingerprint };
  if (login === 'password') {
    const p = target.passwordLogin;
    if (p === undefined) throw new Error('this target has no password login');
    return { ...base, username: p.username, password: p.password, ...extra };
  }
  return { ...base, username: target.keyLogin.username, privateKey: target.keyLogin.privateKey, ...extra };
}

/** Connects and returns the connection id; fails the test with the result text otherwise. */
export async function connectOrFail(client: Client, args: Record<string, unknown>): Promise<string> {
  const result = await callTool<{ connectionId: string }>(client, 'connect', args);
  if (result.isError) throw new Error(`connect failed: ${result.text}`);
  return result.structured.connectionId;
}

/** Polls `check` until it returns true; a bounded wait for a state change, not a timing assertion. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => ((await check()) ? true : undefined), 'the condition', timeoutMs);
}

/** Lines of key material worth searching for: the secret itself and each long line of it. */
function needles(secret: string): string[] {
  const lines = secret
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
  return [secret, ...lines];
}

/** The secrets that occur in `texts` (empty when none leaked). */
export function leakedSecrets(texts: ReadonlyArray<string>, secrets: ReadonlyArray<string>): string[] {
  const leaked: string[] = [];
  for (const secret of secrets) {
    for (const needle of needles(secret)) {
      if (texts.some((t) => t.includes(needle) || t.includes(JSON.stringify(needle).slice(1, -1)))) {
        leaked.push(`${needle.slice(0, 6)}...`);
        break;
      }
    }
  }
  return leaked;
}
