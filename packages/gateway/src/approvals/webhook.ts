/**
 * The optional webhook (issue 12, for chat-ops): each new pending approval is POSTed as JSON to a
 * configured URL, signed so the receiver can tell it came from this gateway. The signature is
 * Stripe's scheme: `x-bastion-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * the time inside what is signed so an old delivery cannot be replayed as new.
 *
 * Deliveries are fire-and-forget (a slow receiver never holds a call), bounded by a timeout, and
 * owned: `close()` aborts those still in flight.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';

export interface WebhookConfig {
  url: string;
  secret: string;
}

export const SIGNATURE_HEADER = 'x-bastion-signature';
const TIMEOUT_MS = 10_000;

export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export class ApprovalWebhook {
  private readonly inflight = new Set<AbortController>();

  constructor(
    private readonly config: WebhookConfig,
    private readonly logger: Logger,
  ) {}

  send(event: Record<string, unknown>): void {
    const body = JSON.stringify(event);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('webhook timed out')), TIMEOUT_MS);
    timer.unref();
    this.inflight.add(controller);
    fetch(this.config.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(this.config.secret, body, Math.floor(Date.now() / 1000)),
      },
      body,
      signal: controller.signal,
    })
      .then(async (res) => {
        await res.body?.cancel();
        if (!res.ok) this.logger.warn({ status: res.status }, 'approval webhook answered with an error');
      })
      .catch((err: unknown) => {
        if (!controller.signal.aborted || this.inflight.has(controller))
          this.logger.warn({ err: (err as Error).message }, 'approval webhook could not be delivered');
      })
      .finally(() => {
        clearTimeout(timer);
        this.inflight.delete(controller);
      });
  }

  close(): void {
    for (const controller of this.inflight) {
      this.inflight.delete(controller);
      controller.abort(new Error('gateway closing'));
    }
  }
}
