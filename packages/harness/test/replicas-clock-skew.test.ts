/**
 * Two replicas whose clocks disagree by 3.5 s (BASTION_GATEWAY_CLOCK_OFFSET_MS, a test hook) in
 * front of one Redis, against a fixed 10-second window of max 50. The calls are sent 7 s into a
 * window (by this machine's clock, which Redis shares): by its own clock the skewed replica is then
 * already in the next window, so counters that took the gateways' time would admit up to 100. Taking
 * Redis's time, the two admit 50 between them and tell the agent the same window end.
 */
import { afterAll, expect, it } from 'vitest';
import { RawMcpAgent, tally } from '../src/replicas/raw-agent.js';
import { verifies } from '../src/requirements/index.js';
import {
  type ReplicaTopology,
  replicaProviders,
  SCENARIO_MAX,
  SCENARIO_TOOL,
  SKEW_SERVER,
  SKEW_WINDOW_S,
} from '../src/targets/replicas/index.js';
import { describeEachTier, type TierContext } from '../src/testing/tiers.js';

const SKEW_MS = 3_500;
const CALLS = 200;

describeEachTier(
  'gateway replicas with skewed clocks',
  replicaProviders({ replicas: 2, clockOffsetsMs: [0, SKEW_MS] }),
  (ctx: TierContext<ReplicaTopology>) => {
    let agent: RawMcpAgent | undefined;
    afterAll(() => agent?.close());

    it(verifies('replicas.e2e.clock-skew'), async () => {
      const t = ctx.target();
      agent = new RawMcpAgent({ bases: [...t.replicas], server: SKEW_SERVER, token: t.token });
      const windowMs = SKEW_WINDOW_S * 1000;
      // 7.0 s into a window: the unskewed replica's clock is in window k, the skewed one's in k + 1.
      const into = Date.now() % windowMs;
      await new Promise((r) => setTimeout(r, (7_000 - into + windowMs) % windowMs));
      const sentAt = Date.now();
      const timed = await Promise.all(
        Array.from({ length: CALLS }, (_, i) =>
          (agent as RawMcpAgent)
            .modernCall(SCENARIO_TOOL, {}, { via: i })
            .then((outcome) => ({ outcome, at: Date.now(), via: i % 2 })),
        ),
      );
      const outcomes = timed.map((t) => t.outcome);
      const answeredAt = Date.now();
      const counts = tally(outcomes);
      process.stdout.write(
        `replicas: [${ctx.tier}] clocks skewed ${SKEW_MS} ms: admitted ${counts.admitted ?? 0}/${SCENARIO_MAX} of ${CALLS} calls over 2 replicas ${JSON.stringify(counts)}\n`,
      );
      // All calls must have been decided in one window for the count to mean anything.
      expect(Math.floor(answeredAt / windowMs)).toBe(Math.floor(sentAt / windowMs));
      expect(counts).toEqual({ admitted: SCENARIO_MAX, 'denied:POLICY_DENIED': CALLS - SCENARIO_MAX });
      // Both replicas name Redis's window end: each denial was decided between the send and its
      // answer, so the window end lies between sentAt + retryAfterMs and answer + retryAfterMs.
      const windowEnd = (Math.floor(sentAt / windowMs) + 1) * windowMs;
      for (const via of [0, 1]) {
        const denial = timed.find((t) => t.via === via && t.outcome.kind === 'denied');
        const retry = denial?.outcome.retryAfterMs ?? Number.NaN;
        expect(sentAt + retry, `replica ${via}`).toBeLessThanOrEqual(windowEnd + 5);
        expect((denial?.at ?? 0) + retry, `replica ${via}`).toBeGreaterThanOrEqual(windowEnd - 5);
      }
    }, 60_000);
  },
);
