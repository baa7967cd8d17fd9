/**
 * The legacy HTTP+SSE transport (2024-11-05): `GET <stream path>` opens a session and names its
 * message URL in an `endpoint` event; `POST <message path>?sessionId=` carries the client's messages,
 * answered on the stream. The MQTTX SSE Server's `/mqttx/sse` framing, which the MQTTX app expects,
 * is exactly this (SDK v2 ships the transport frozen in `@modelcontextprotocol/server-legacy`).
 * A heartbeat comment keeps idle proxies from cutting the stream (the original sent one every 10 s).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SSEServerTransport } from '@modelcontextprotocol/server-legacy/sse';
import type { Logger } from 'pino';
import { sendRpcError } from './responses.js';
import type { LiveSession, SessionHandle, SessionTable } from './sessions.js';

export { SSEServerTransport };

export async function openSseSession(
  table: SessionTable,
  options: {
    messagePath: string;
    principalId: string;
    heartbeatMs: number;
    log: Logger;
    open(transport: SSEServerTransport, sessionId: string): Promise<SessionHandle>;
  },
  res: ServerResponse,
): Promise<void> {
  const transport = new SSEServerTransport(options.messagePath, res);
  const session = table.add({
    id: transport.sessionId,
    principalId: options.principalId,
    kind: 'sse',
    transport,
  });
  const heartbeat = setInterval(() => {
    if (!res.writableEnded) res.write(': ping\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();
  const done = () => {
    clearInterval(heartbeat);
    void table.close(session);
  };
  res.on('close', done);
  transport.onclose = done;
  try {
    session.handle = await options.open(transport, session.id);
  } catch (err) {
    options.log.error({ err }, 'could not open MCP session');
    done();
    if (!res.headersSent) sendRpcError(res, 500, -32603, 'Could not open session');
    else res.end();
  }
}

export async function postSseMessage(
  table: SessionTable,
  principalId: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const sessionId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sessionId');
  if (!sessionId) {
    sendRpcError(res, 400, -32000, 'Missing sessionId parameter');
    return;
  }
  const session = table.find(sessionId, principalId) as LiveSession<SSEServerTransport> | undefined;
  if (session === undefined || session.kind !== 'sse') {
    sendRpcError(res, 404, -32001, 'Session not found');
    return;
  }
  await session.transport.handlePostMessage(req, res, body);
}
