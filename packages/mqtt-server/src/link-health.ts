/**
 * When the backoff of a broker connection starts over, and when a lost link means that another
 * client took the connection's client id.
 *
 * Issue 14, "reconnect storm": two leftover MCP sessions connected with the same MQTT client id took
 * the connection from each other every 0.5 s, because the backoff reset to zero after every
 * reconnect that succeeded - the broker accepts each CONNECT, then hands the id to the other one.
 * So the backoff (the server kit's, @bastion/mcp-http/kit) resets only after a link stayed up
 * `stableMs`, and a takeover is recognised:
 *   - MQTT 5: the broker's DISCONNECT says so, reason code 0x8E "Session taken over" [MQTT-3.1.4-3];
 *   - MQTT 3.1.1 has no reason: the broker closes the socket. A link lost within `stableMs` of its
 *     CONNACK, SHORT_LINKS_FOR_TAKEOVER times in a row, is taken for a takeover. (A broker that
 *     accepts and drops a client repeatedly for another reason looks the same; the agent is told it
 *     is probable, not certain.)
 */
import { Backoff } from '@bastion/mcp-http/kit';
import { MqttErrorCode, MqttToolError } from './errors.js';

/** MQTT 5 DISCONNECT reason code 0x8E, Session taken over (section 3.14.2.1). */
export const SESSION_TAKEN_OVER = 0x8e;
/** Links in a row lost within `stableMs` of being accepted before MQTT 3.1.1 calls it a takeover. */
export const SHORT_LINKS_FOR_TAKEOVER = 3;

export interface LinkHealthOptions {
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  /** A link that stays up this long resets the backoff and the short-link count. */
  reconnectStableMs: number;
}

export type TakeoverEvidence =
  | { detectedBy: 'reason-code'; reasonCode: number }
  | { detectedBy: 'repeated-disconnects'; shortLinks: number };

export class LinkHealth {
  private readonly backoff: Backoff;
  private shortLinks = 0;
  private upSince: number | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private takeoverReason: number | undefined;

  constructor(private readonly options: LinkHealthOptions) {
    this.backoff = new Backoff({
      initialMs: options.reconnectInitialDelayMs,
      maxMs: options.reconnectMaxDelayMs,
    });
  }

  /** A CONNACK accepted the link (the first connect, or a reconnect). */
  linkUp(): void {
    this.upSince = performance.now();
    this.takeoverReason = undefined;
    clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = undefined;
      this.backoff.reset();
      this.shortLinks = 0;
    }, this.options.reconnectStableMs);
  }

  /** The broker's DISCONNECT (MQTT 5) gave this reason code. */
  disconnectReason(code: number | undefined): void {
    if (code !== undefined) this.takeoverReason = code;
  }

  /** The link was lost; says whether that was a takeover. */
  linkDown(): TakeoverEvidence | undefined {
    clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
    const upSince = this.upSince;
    this.upSince = undefined;
    if (upSince === undefined) return undefined;
    if (this.takeoverReason === SESSION_TAKEN_OVER) {
      return { detectedBy: 'reason-code', reasonCode: SESSION_TAKEN_OVER };
    }
    if (performance.now() - upSince < this.options.reconnectStableMs) this.shortLinks++;
    else this.shortLinks = 0;
    if (this.shortLinks >= SHORT_LINKS_FOR_TAKEOVER) {
      return { detectedBy: 'repeated-disconnects', shortLinks: this.shortLinks };
    }
    return undefined;
  }

  /** The delay before the next reconnect attempt; each call moves the backoff on. */
  nextDelayMs(): number {
    return this.backoff.next();
  }

  status(): { backoffAttempt: number; shortLinks: number } {
    return { backoffAttempt: this.backoff.attempts, shortLinks: this.shortLinks };
  }

  close(): void {
    clearTimeout(this.stableTimer);
    this.stableTimer = undefined;
  }
}

/** The error every operation on a taken-over connection answers with. */
export function takeoverError(
  what: string,
  connection: { name: string; clientId: string; host: string; port: number },
  evidence: TakeoverEvidence,
): MqttToolError {
  const { name, clientId, host, port } = connection;
  const why =
    evidence.detectedBy === 'reason-code'
      ? `another MQTT client connected with client ID '${clientId}' and the broker at ${host}:${port} ` +
        `gave it this connection's session (MQTT 5 reason code 0x8E, session taken over)`
      : `the broker at ${host}:${port} closed the connection right after accepting it ` +
        `${evidence.shortLinks} times in a row: another MQTT client is probably connected with client ID ` +
        `'${clientId}' (an MQTT 3.1.1 broker gives no reason)`;
  return new MqttToolError(
    MqttErrorCode.ClientIdTakenOver,
    `Cannot ${what} on connection '${name}': ${why}. It stopped reconnecting, so that the two clients ` +
      'do not take the ID from each other in turn. Call mqttConnect again, with another clientId ' +
      'if the other client is still needed, or mqttDisconnect.',
    { details: { connection: name, clientId, ...evidence } },
  );
}
