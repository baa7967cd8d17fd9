/** What went wrong while connecting, or with an operation, as a coded MqttToolError. */
import type { ConnectRequest } from './connect-request.js';
import { MqttErrorCode, MqttToolError } from './errors.js';

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3); mqtt.js names only the MQTT 5 ones. */
const V3_RETURN_CODES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};
/** MQTT 5 CONNACK reason codes that mean the credentials were refused (section 3.2.2.2). */
const V5_AUTH_CODES = new Set([0x86, 0x87, 0x8c]);
const V3_AUTH_CODES = new Set([4, 5]);

function isTlsErrorCode(code: string): boolean {
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.includes('CERT') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'EPROTO'
  );
}

/** Turns whatever mqtt.js or the socket reported during connect into a clear, coded error. */
export function classifyConnectError(err: unknown, req: ConnectRequest): MqttToolError {
  const where = `${req.host}:${req.port}`;
  const e = err as { code?: unknown; message?: string };
  const details = { connection: req.name, host: req.host, port: req.port };
  if (typeof e.code === 'number') {
    const rc = e.code;
    const reason =
      req.protocolVersion === 5
        ? (e.message ?? '').replace(/^Connection refused: /, '')
        : (V3_RETURN_CODES[rc] ?? 'unknown return code');
    const auth = req.protocolVersion === 5 ? V5_AUTH_CODES.has(rc) : V3_AUTH_CODES.has(rc);
    return new MqttToolError(
      auth ? MqttErrorCode.AuthFailed : MqttErrorCode.ConnectRejected,
      auth
        ? `Authentication failed: the broker at ${where} refused the credentials (reason code ${rc}: ${reason})`
        : `The broker at ${where} refused the connection (reason code ${rc}: ${reason})`,
      { cause: err, details: { ...details, reasonCode: rc, reason } },
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = e.message ?? String(err);
  if (code === 'ECONNREFUSED') {
    return new MqttToolError(
      MqttErrorCode.ConnectRefused,
      `Connection refused by ${where}: no broker is listening there`,
      { cause: err, details: { ...details, errno: code } },
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return new MqttToolError(MqttErrorCode.DnsFailed, `Cannot resolve broker host '${req.host}' (${code})`, {
      cause: err,
      details: { ...details, errno: code },
    });
  }
  if (code !== undefined && isTlsErrorCode(code)) {
    return new MqttToolError(MqttErrorCode.TlsFailed, `TLS handshake with ${where} failed: ${message}`, {
      cause: err,
      details: { ...details, errno: code },
    });
  }
  if (message === 'connack timeout') return connectTimeout(req);
  // A plain-MQTT port answering a TLS client hello just hangs up: say it was the handshake.
  if ((req.protocol === 'mqtts' || req.protocol === 'wss') && /TLS|SSL|secure/i.test(message)) {
    return new MqttToolError(MqttErrorCode.TlsFailed, `TLS handshake with ${where} failed: ${message}`, {
      cause: err,
      details: code === undefined ? details : { ...details, errno: code },
    });
  }
  return new MqttToolError(MqttErrorCode.ConnectFailed, `Could not connect to ${where}: ${message}`, {
    cause: err,
    details: code === undefined ? details : { ...details, errno: code },
  });
}

export function connectTimeout(req: ConnectRequest): MqttToolError {
  return new MqttToolError(
    MqttErrorCode.ConnectTimeout,
    `Timed out after ${req.connectTimeoutMs} ms connecting to ${req.host}:${req.port}: no answer from an MQTT broker`,
    { details: { connection: req.name, host: req.host, port: req.port, timeoutMs: req.connectTimeoutMs } },
  );
}

/** A failed subscribe, unsubscribe or publish on connection `name`, as a coded error. */
export function operationError(name: string, what: string, err: unknown): MqttToolError {
  const e = err as { code?: unknown; message?: string; packet?: { granted?: number[] } };
  const message = e.message ?? String(err);
  if (message === 'No connection to broker' || message === 'Connection closed') {
    return new MqttToolError(
      MqttErrorCode.ConnectionLost,
      `Cannot ${what}: the connection to the broker was lost`,
      {
        cause: err,
        details: { connection: name },
      },
    );
  }
  const reasonCode = typeof e.code === 'number' ? e.code : e.packet?.granted?.find((g) => g >= 0x80);
  if (message.startsWith('Subscribe error') || reasonCode !== undefined) {
    const subscribe = what.startsWith('subscribe');
    return new MqttToolError(
      subscribe ? MqttErrorCode.SubscribeRefused : MqttErrorCode.BrokerError,
      `Cannot ${what}: the broker refused${reasonCode === undefined ? '' : ` (reason code ${reasonCode})`}: ${message}`,
      { cause: err, details: { connection: name, reasonCode } },
    );
  }
  return new MqttToolError(MqttErrorCode.BrokerError, `Cannot ${what}: ${message}`, {
    cause: err,
    details: { connection: name },
  });
}
