/** When the reconnect backoff starts over, and when a lost link is another client taking the id. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkHealth, SESSION_TAKEN_OVER, SHORT_LINKS_FOR_TAKEOVER } from '../src/link-health.js';
import { NotificationBudget } from '../src/notification-budget.js';

const owned: LinkHealth[] = [];
function health(stableMs: number): LinkHealth {
  const h = new LinkHealth({
    reconnectInitialDelayMs: 100,
    reconnectMaxDelayMs: 1600,
    reconnectStableMs: stableMs,
  });
  owned.push(h);
  return h;
}
afterEach(() => {
  for (const h of owned.splice(0)) h.close();
});

describe('reconnect backoff', () => {
  it('keeps growing across links that are lost before they are stable', () => {
    const h = health(60_000);
    for (let i = 0; i < 4; i++) {
      // Within the kit's full-jitter range for this attempt: [0, min(max, initial * 2^attempt)].
      expect(h.nextDelayMs()).toBeLessThanOrEqual(Math.min(1600, 100 * 2 ** i));
      h.linkUp(); // a reconnect succeeds ...
      h.linkDown(); // ... and is lost again at once
      if (i < 2) expect(h.status().shortLinks).toBe(i + 1);
    }
    // Not reset by the reconnects that succeeded: the fifth delay may be up to 1600 ms.
    expect(h.status().backoffAttempt).toBe(4);
  });

  it('starts over once a link stayed up for the stable time', async () => {
    const h = health(30);
    h.nextDelayMs();
    h.nextDelayMs();
    h.linkUp();
    h.linkDown();
    h.linkUp();
    await sleep(60);
    expect(h.status()).toEqual({ backoffAttempt: 0, shortLinks: 0 });
    expect(h.linkDown()).toBeUndefined();
  });
});

describe('takeover detection', () => {
  it('recognises MQTT 5 reason code 0x8E at once', () => {
    const h = health(60_000);
    h.linkUp();
    h.disconnectReason(SESSION_TAKEN_OVER);
    expect(h.linkDown()).toEqual({ detectedBy: 'reason-code', reasonCode: 0x8e });
  });

  it('ignores other reason codes, and a reason code from a link before the current one', () => {
    const h = health(60_000);
    h.linkUp();
    h.disconnectReason(0x8b); // server shutting down
    expect(h.linkDown()).toBeUndefined();
    h.disconnectReason(SESSION_TAKEN_OVER);
    h.linkUp();
    expect(h.linkDown()).toBeUndefined();
  });

  it(`takes ${SHORT_LINKS_FOR_TAKEOVER} short links in a row for a takeover on MQTT 3.1.1`, () => {
    const h = health(60_000);
    for (let i = 1; i < SHORT_LINKS_FOR_TAKEOVER; i++) {
      h.linkUp();
      expect(h.linkDown()).toBeUndefined();
    }
    h.linkUp();
    expect(h.linkDown()).toEqual({
      detectedBy: 'repeated-disconnects',
      shortLinks: SHORT_LINKS_FOR_TAKEOVER,
    });
  });

  it('does not count a failed reconnect (no CONNACK) as a short link', () => {
    const h = health(60_000);
    h.linkUp();
    h.linkDown();
    for (let i = 0; i < 5; i++) expect(h.linkDown()).toBeUndefined();
    expect(h.status().shortLinks).toBe(1);
  });
});

describe('notification budget', () => {
  it('pushes up to its rate, says once when it starts holding back, and counts what it held back', () => {
    let now = 0;
    const budget = new NotificationBudget(10, () => now);
    const decisions = Array.from({ length: 13 }, () => budget.take());
    expect(decisions.slice(0, 10).every((d) => d === 'push')).toBe(true);
    expect(decisions.slice(10)).toEqual(['skip-first', 'skip', 'skip']);
    now += 100; // one token back
    expect(budget.take()).toBe('push');
    expect(budget.take()).toBe('skip-first');
    expect(budget.status()).toEqual({ perSecond: 10, sent: 11, skipped: 4 });
  });

  it('never holds back with no limit', () => {
    const budget = new NotificationBudget(0, () => 0);
    for (let i = 0; i < 10_000; i++) expect(budget.take()).toBe('push');
    expect(budget.status()).toEqual({ perSecond: 0, sent: 10_000, skipped: 0 });
  });
});
