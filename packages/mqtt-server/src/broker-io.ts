/**
 * Waiting on the broker: the CONNACK of a first connect, and the acknowledgement of a subscribe,
 * unsubscribe or publish. Each wait is bounded and owns its timer.
 */
import type { MqttClient } from 'mqtt';
import { classifyConnectError, connectTimeout, operationError } from './connect-errors.js';
import type { ConnectRequest } from './connect-request.js';
import { MqttErrorCode, MqttToolError } from './errors.js';

/** Resolves on the first CONNACK; rejects with a classified error on anything else. */
export function firstConnack(client: MqttClient, req: ConnectRequest, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const timer = setTimeout(() => finish(connectTimeout(req)), req.connectTimeoutMs);
    const onConnect = () => finish(undefined);
    // A refused CONNACK and socket errors are final for a first connect.
    const onError = (err: Error) => {
      lastError = err;
      finish(classifyConnectError(err, req));
    };
    const onClose = () =>
      finish(
        lastError === undefined
          ? new MqttToolError(
              MqttErrorCode.ConnectFailed,
              `The broker at ${req.host}:${req.port} closed the connection before accepting it` +
                (req.protocolVersion === 5 ? ' (does it support MQTT 5?)' : ''),
              { details: { connection: req.name, host: req.host, port: req.port } },
            )
          : classifyConnectError(lastError, req),
      );
    const onAbort = () =>
      finish(
        new MqttToolError(
          MqttErrorCode.ConnectFailed,
          'Connect cancelled: the MCP session or request ended',
          {
            details: { connection: req.name },
          },
        ),
      );
    function finish(error: MqttToolError | undefined) {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    }
    client.once('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits for the broker's answer to an operation of connection `op.name`, bounded by the operation
 * timeout and by the connection being lost (`op.lostListeners` are called when it is).
 */
export function acknowledged<T>(
  op: { name: string; timeoutMs: number; lostListeners: Set<() => void> },
  what: string,
  start: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (error: MqttToolError | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      op.lostListeners.delete(onLost);
      if (error !== undefined) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(
      () =>
        settle(
          new MqttToolError(
            MqttErrorCode.OperationTimeout,
            `Cannot ${what}: the broker did not acknowledge within ${op.timeoutMs} ms`,
            { details: { connection: op.name } },
          ),
        ),
      op.timeoutMs,
    );
    const onLost = () =>
      settle(
        new MqttToolError(
          MqttErrorCode.ConnectionLost,
          `Cannot ${what}: the connection to the broker was lost before it acknowledged ` +
            '(the broker may or may not have processed it)',
          { details: { connection: op.name } },
        ),
      );
    op.lostListeners.add(onLost);
    start().then(
      (value) => settle(undefined, value),
      (err: unknown) => settle(operationError(op.name, what, err)),
    );
  });
}
