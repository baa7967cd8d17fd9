/**
 * The gateway tests' 2026-era upstream: SDK v2 `McpServer`s behind `createMcpHandler`, hosted by
 * @bastion/mcp-http in one of three shapes:
 *   - 'dual': 2025-era sessions (one server per session) and the 2026 era on one URL, as Bastion's
 *     own servers serve both eras;
 *   - 'stateless': `createMcpHandler`'s default, the 2026 era and a stateless 2025 fallback;
 *   - 'modern': the 2026 era only (`legacy: 'reject'`).
 *
 * 2026-era state is kept per caller identity: the `x-bastion-identity` header when the gateway sends
 * one, else the bearer principal. Its tools cover what the gateway must carry across both eras:
 * progress and logging, cancellation, `input_required` (elicitation, sampling, roots), an
 * outputSchema, list-changed and resource-updated notifications.
 */

import { type McpHttpHost, sdkModernIdentity, startMcpHttpHost, tokenAuthenticator } from '@bastion/mcp-http';
import {
  acceptedContent,
  type CallToolResult,
  createMcpHandler,
  InMemoryServerEventBus,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  McpServer,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { silent } from './harness.js';

export type ModernFixtureShape = 'dual' | 'stateless' | 'modern';

export interface ModernFixture {
  url: string;
  host: McpHttpHost;
  /** Tool calls per identity, as the upstream counted them. */
  calls: Map<string, number>;
  /** Requests the upstream received, by method. */
  methods: string[];
  notifyToolsChanged(): void;
  notifyResourceUpdated(uri: string): void;
  close(): Promise<void>;
}

export const IDENTITY_HEADER = 'x-bastion-identity';

const text = (t: string): CallToolResult => ({ content: [{ type: 'text', text: t }] });

function modernServer(identity: string, fixture: Pick<ModernFixture, 'calls'>, era: string): McpServer {
  const server = new McpServer(
    { name: 'fixture-v2', version: '2.0.0' },
    {
      capabilities: {
        logging: {},
        resources: { subscribe: true, listChanged: true },
        tools: { listChanged: true },
      },
      instructions: 'A 2026-era fixture upstream for the gateway tests.',
    },
  );
  const count = () => {
    const n = (fixture.calls.get(identity) ?? 0) + 1;
    fixture.calls.set(identity, n);
    return n;
  };
  server.registerTool(
    'whoami',
    {
      description: 'Who the upstream thinks is calling, and how many calls it counted for them.',
      inputSchema: z.object({}),
      outputSchema: z.object({ identity: z.string(), calls: z.number(), era: z.string() }),
    },
    async () => {
      const calls = count();
      return { ...text(`${identity} ${calls}`), structuredContent: { identity, calls, era } };
    },
  );
  server.registerTool(
    'echo',
    { description: 'Says it back.', inputSchema: z.object({ text: z.string() }) },
    async ({ text: said }) => {
      count();
      return text(said);
    },
  );
  server.registerTool(
    'mqttDisconnect',
    {
      description: 'Disconnects (a tool with an outputSchema).',
      inputSchema: z.object({}),
      outputSchema: z.object({ disconnected: z.boolean() }),
    },
    async () => {
      count();
      return { ...text('disconnected'), structuredContent: { disconnected: true } };
    },
  );
  server.registerTool(
    'slow',
    {
      description: 'Waits, reporting progress and logging; stops when cancelled.',
      inputSchema: z.object({ ms: z.number(), steps: z.number().int().optional() }),
    },
    async ({ ms, steps = 2 }, ctx) => {
      count();
      await ctx.mcpReq.log('info', 'slow started');
      for (let i = 1; i <= steps; i++) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms / steps);
          ctx.mcpReq.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('cancelled'));
          });
        });
        const token = ctx.mcpReq._meta?.progressToken;
        if (token !== undefined)
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
          });
      }
      return text(`slept ${ms}`);
    },
  );
  server.registerTool(
    'confirm',
    {
      description: 'Asks the user to confirm (elicitation, input_required).',
      inputSchema: z.object({ action: z.string() }),
    },
    async ({ action }, ctx): Promise<CallToolResult | InputRequiredResult> => {
      const view = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
      if (view.kind === 'elicit' && view.action !== 'accept')
        return { ...text(`${action} declined`), isError: true };
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', z.object({ ok: z.boolean() }));
      if (answer === undefined) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: `Confirm ${action}?`,
              requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
            }),
          },
        });
      }
      count();
      return text(answer.ok ? `confirmed ${action}` : `not confirmed ${action}`);
    },
  );
  server.registerTool(
    'askModel',
    {
      description: 'Asks the client for a completion (sampling, input_required).',
      inputSchema: z.object({ prompt: z.string() }),
    },
    async ({ prompt }, ctx): Promise<CallToolResult | InputRequiredResult> => {
      const view = inputResponse(ctx.mcpReq.inputResponses, 'model');
      if (view.kind !== 'sampling') {
        return inputRequired({
          inputRequests: {
            model: inputRequired.createMessage({
              messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
              maxTokens: 10,
            }),
          },
        });
      }
      count();
      const content = Array.isArray(view.result.content) ? view.result.content[0] : view.result.content;
      return text(`model said: ${content?.type === 'text' ? content.text : '?'}`);
    },
  );
  server.registerResource('greeting', 'fixture://greeting', { mimeType: 'text/plain' }, async (uri) => ({
    contents: [{ uri: uri.href, text: `hello from ${era}` }],
  }));
  server.registerPrompt(
    'greet',
    { description: 'Greets someone.', argsSchema: z.object({ name: z.string() }) },
    async ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }],
    }),
  );
  return server;
}

/** Starts the fixture (on a free loopback port unless given one); a token makes it require one. */
export async function startModernFixture(
  shape: ModernFixtureShape,
  options: { token?: string; port?: number } = {},
): Promise<ModernFixture> {
  const { token, port } = options;
  const calls = new Map<string, number>();
  const methods: string[] = [];
  const bus = new InMemoryServerEventBus();
  const identityOf = (request: Request | undefined, fallback: string) =>
    request?.headers.get(IDENTITY_HEADER) ?? fallback;
  const handler = createMcpHandler(
    ({ era, requestInfo, authInfo }) =>
      modernServer(identityOf(requestInfo, authInfo?.clientId ?? 'anonymous'), { calls }, era),
    { legacy: shape === 'stateless' ? 'stateless' : 'reject', bus },
  );
  let sessions = 0;
  const host = await startMcpHttpHost({
    name: 'fixture-v2',
    logger: silent,
    ...(port === undefined ? {} : { port }),
    ...(token === undefined ? {} : { authenticate: tokenAuthenticator([token]) }),
    endpoints: [
      {
        streamablePath: '/mcp',
        async openSession(transport) {
          if (shape !== 'dual') throw new Error('this fixture serves no 2025-era sessions');
          const server = modernServer(`session-${++sessions}`, { calls }, 'legacy');
          await server.connect(transport);
          return { close: () => server.close() };
        },
        ...(shape === 'dual'
          ? {
              openIdentity: async (principal) => sdkModernIdentity(handler, principal, async () => undefined),
            }
          : {
              async serve(req, res, context) {
                const body = context.body as { method?: string } | undefined;
                if (typeof body?.method === 'string') methods.push(body.method);
                await sdkModernIdentity(handler, context.principal, async () => undefined).serve(
                  req,
                  res,
                  context.body,
                );
              },
            }),
      },
    ],
  });
  return {
    url: `${host.url}/mcp`,
    host,
    calls,
    methods,
    notifyToolsChanged: () => handler.notify.toolsChanged(),
    notifyResourceUpdated: (uri) => handler.notify.resourceUpdated(uri),
    async close() {
      await host.close();
      await handler.close();
    },
  };
}
