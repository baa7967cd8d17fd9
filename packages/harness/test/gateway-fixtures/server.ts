/**
 * The gateway tests' upstream: a real SDK McpServer with tools shaped like the MQTT and SSH servers'
 * (mqttConnect, mqttDisconnect with an outputSchema, disconnect, executeCommand), and one of each
 * other MCP feature the gateway must pass through: resources (with a template, completion and
 * subscriptions), prompts, logging, progress, sampling, elicitation, roots and list_changed.
 * One instance per session; `calls` counts this session's tool calls, `pid` names the process.
 */
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const text = (t: string, structured?: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text: t }],
  ...(structured === undefined ? {} : { structuredContent: structured }),
});

const hints = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

export function createFixtureServer(): McpServer {
  const server = new McpServer(
    { name: 'fixture-upstream', version: '1.2.3' },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } },
      instructions: 'A fixture upstream for the gateway tests.',
    },
  );
  let calls = 0;
  const subscribed = new Set<string>();
  const count = () => ++calls;

  server.registerTool(
    'mqttConnect',
    {
      description: 'Connects to an MQTT broker with the specified parameters.',
      inputSchema: {
        host: z.string(),
        port: z.number(),
        clientId: z.string(),
        username: z.string().optional(),
        password: z.string().optional(),
      },
      annotations: hints,
    },
    ({ host, port, clientId }) => {
      count();
      return text(`Successfully connected to MQTT broker at ${host}:${port} with client ID ${clientId}`);
    },
  );
  server.registerTool(
    'mqttDisconnect',
    {
      description: 'Disconnects from the currently connected MQTT broker.',
      outputSchema: { disconnected: z.boolean() },
      annotations: hints,
    },
    () => {
      count();
      return text('Successfully disconnected from MQTT broker', { disconnected: true });
    },
  );
  server.registerTool(
    'mqttPublish',
    {
      description: 'Publishes a message.',
      inputSchema: { topic: z.string(), payload: z.string(), qos: z.number().int().min(0).max(2).optional() },
      annotations: hints,
    },
    ({ topic, qos }) => {
      count();
      return text(`Successfully published message to MQTT topic '${topic}' with QoS ${qos ?? 0}`);
    },
  );
  server.registerTool(
    'disconnect',
    {
      description: 'Closes an SSH connection.',
      inputSchema: { connectionId: z.string() },
      annotations: hints,
    },
    ({ connectionId }) => {
      count();
      return text(`disconnected ${connectionId}`);
    },
  );
  server.registerTool(
    'executeCommand',
    {
      description: 'Runs a command.',
      inputSchema: { connectionId: z.string(), command: z.string(), cwd: z.string().optional() },
      annotations: hints,
    },
    ({ command }) => {
      count();
      return text(`ran ${command}`);
    },
  );
  server.registerTool(
    'login',
    {
      description: 'Takes a secret the upstream marks writeOnly.',
      inputSchema: { user: z.string(), pin: z.string().meta({ writeOnly: true }) },
      annotations: hints,
    },
    ({ user }) => {
      count();
      return text(`hello ${user}`);
    },
  );
  server.registerTool(
    'sessionInfo',
    {
      description: 'This session: calls so far and the process id.',
      outputSchema: { calls: z.number(), pid: z.number() },
      annotations: { ...hints, readOnlyHint: true },
    },
    () => {
      const n = count();
      return text(`calls=${n} pid=${process.pid}`, { calls: n, pid: process.pid });
    },
  );
  server.registerTool(
    'slow',
    {
      description: 'Waits, reporting progress and logging; stops when cancelled.',
      inputSchema: { ms: z.number(), steps: z.number().int().optional() },
      annotations: hints,
    },
    async ({ ms, steps = 2 }, extra) => {
      count();
      await server.sendLoggingMessage(
        { level: 'info', logger: 'fixture', data: 'slow started' },
        extra.sessionId,
      );
      for (let i = 1; i <= steps; i++) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms / steps);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('cancelled'));
          });
        });
        const token = extra._meta?.progressToken;
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
          });
        }
      }
      return text(`slept ${ms}`);
    },
  );
  server.registerTool(
    'exitProcess',
    { description: 'Ends the upstream process mid-call (stdio fixture).', annotations: hints },
    () => {
      count();
      setTimeout(() => process.exit(3), 10);
      return new Promise<CallToolResult>(() => undefined);
    },
  );
  server.registerTool(
    'badRequest',
    { description: 'Answers with a JSON-RPC error.', annotations: hints },
    () => {
      count();
      // McpServer turns every other error into an isError result; this code is passed on as a JSON-RPC error.
      throw new McpError(ErrorCode.UrlElicitationRequired, 'fixture refuses these arguments', {
        elicitations: [],
      });
    },
  );
  server.registerTool(
    'askModel',
    {
      description: 'Asks the client for a completion (sampling).',
      inputSchema: { prompt: z.string() },
      annotations: hints,
    },
    async ({ prompt }) => {
      count();
      const reply = await server.server.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
        maxTokens: 10,
      });
      return text(`model said: ${reply.content.type === 'text' ? reply.content.text : '?'}`);
    },
  );
  server.registerTool(
    'askUser',
    { description: 'Asks the user (elicitation).', annotations: hints },
    async () => {
      count();
      const reply = await server.server.elicitInput({
        message: 'Your name?',
        requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      });
      return text(`user said: ${reply.action} ${JSON.stringify(reply.content ?? {})}`);
    },
  );
  server.registerTool(
    'listRoots',
    { description: 'Lists the client roots.', annotations: hints },
    async () => {
      count();
      const { roots } = await server.server.listRoots();
      return text(roots.map((r) => r.uri).join(','));
    },
  );
  server.registerTool(
    'addTool',
    {
      description: 'Adds a tool (tools/list_changed).',
      inputSchema: { name: z.string() },
      annotations: hints,
    },
    ({ name }) => {
      count();
      server.registerTool(name, { description: 'added at run time', annotations: hints }, () =>
        text(`${name} ran`),
      );
      return text(`added ${name}`);
    },
  );
  server.registerTool(
    'touch',
    {
      description: 'Reports a resource update to subscribers.',
      inputSchema: { uri: z.string() },
      annotations: hints,
    },
    async ({ uri }) => {
      count();
      if (subscribed.has(uri)) await server.server.sendResourceUpdated({ uri });
      return text(subscribed.has(uri) ? 'notified' : 'not subscribed');
    },
  );

  server.registerResource('greeting', 'fixture://greeting', { mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, text: 'hello from upstream' }],
  }));
  server.registerResource(
    'item',
    new ResourceTemplate('fixture://items/{id}', {
      list: undefined,
      complete: { id: (value) => ['apple', 'apricot', 'banana'].filter((v) => v.startsWith(value)) },
    }),
    { mimeType: 'text/plain' },
    (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${String(id)}` }] }),
  );
  server.server.setRequestHandler(SubscribeRequestSchema, ({ params }) => {
    subscribed.add(params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, ({ params }) => {
    subscribed.delete(params.uri);
    return {};
  });
  server.registerPrompt(
    'greet',
    {
      description: 'Greets someone.',
      argsSchema: {
        name: completable(z.string(), (value) => ['Ada', 'Alan'].filter((n) => n.startsWith(value))),
      },
    },
    ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }] }),
  );
  return server;
}
