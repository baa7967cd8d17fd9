/**
 * A mutant's own line to the upstream, past the gateway: how a broken gateway lets a call through
 * that the real one denied. One SDK client session, opened again when the upstream restarts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, CallToolResultSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';

export class UpstreamLink {
  private client: Client | undefined;
  private transport: StreamableHTTPClientTransport | undefined;
  private toolList: Tool[] | undefined;

  constructor(private readonly url: string) {}

  private async session(): Promise<Client> {
    if (this.client !== undefined) return this.client;
    const client = new Client({ name: 'bastion-mutant', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(this.url));
    await client.connect(transport);
    this.client = client;
    this.transport = transport;
    return client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.transport = undefined;
    await client?.close().catch(() => undefined);
  }

  async tools(): Promise<Tool[]> {
    this.toolList ??= (await (await this.session()).listTools()).tools;
    return this.toolList;
  }

  /** Calls the tool on the upstream; once more on a new session if the old one is gone. */
  async call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const once = async () =>
      (await (
        await this.session()
      ).request(
        { method: 'tools/call', params: { name, arguments: args } },
        CallToolResultSchema,
      )) as CallToolResult;
    try {
      return await once();
    } catch {
      await this.drop();
      return once();
    }
  }

  /**
   * Whether the session this link holds still works. False when the upstream restarted (its new
   * process knows no such session) or is away; the next use opens a new session.
   */
  async alive(): Promise<boolean> {
    if (this.client === undefined) {
      await this.session().catch(() => undefined);
      return true;
    }
    try {
      await this.client.ping();
      return true;
    } catch {
      await this.drop();
      await this.session().catch(() => undefined);
      return false;
    }
  }

  async close(): Promise<void> {
    await this.transport?.terminateSession().catch(() => undefined);
    await this.drop();
  }
}
