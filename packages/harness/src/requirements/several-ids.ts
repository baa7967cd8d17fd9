/**
 * The tests that still cite more than one requirement id, each with why. Everywhere else a test
 * verifies one requirement, so that each passes or fails on its own evidence (issue 14, item 15:
 * against the original MQTTX SSE server, a failure in its notifications marked four correct texts
 * as failed). test/requirements-coverage.test.ts fails on a test with several ids that is not listed
 * here, and on an entry here that no test matches any more.
 */
export interface SeveralIds {
  /** Relative to the workspace root. */
  file: string;
  /** The ids of one `verifies(...)` call, in any order. */
  ids: ReadonlyArray<string>;
  reason: string;
}

/** Files that another branch of this wave rewrites: split them once it has landed, not beside it. */
const pending = (branch: string) =>
  `to split: the ${branch} branch rewrites this file in the same wave; splitting it beside that would collide`;

const OUTAGE =
  'one broker outage per tier (killed, observed down, restarted) is the evidence for each of these; a test of its own for each would kill every broker once per id';

export const SEVERAL_IDS: ReadonlyArray<SeveralIds> = [
  {
    file: 'packages/harness/test/requirements-eras.test.ts',
    ids: ['http.auth.bearer', 'http.body.limit'],
    reason: 'not a test title: the test of verifies() itself, that two ids give a title citing both',
  },
  {
    file: 'packages/harness/test/gateway-audit.test.ts',
    ids: ['gateway.audit.rows', 'gateway.audit.secrets'],
    reason: pending('policy-audit (issue 14, items 12 and 13)'),
  },
  ...(['mqtt', 'ssh'] as const).flatMap((server) => {
    const file = `packages/harness/test/gateway-e2e-${server}.test.ts`;
    const e2e = `gateway.e2e.${server}`;
    const reason = pending('policy-audit (issue 14, items 6 to 13)');
    return [
      { file, ids: [e2e, 'gateway.deny.default', 'gateway.hide.list'], reason },
      {
        file,
        ids: [e2e, 'gateway.limit.fixed-window', 'gateway.limit.per-grant', 'gateway.limit.window-reset'],
        reason,
      },
      { file, ids: [e2e, 'gateway.limit.exact-under-concurrency'], reason },
      {
        file,
        ids: [e2e, 'gateway.conditions.deny-if', 'gateway.audit.secrets', 'gateway.audit.chain'],
        reason,
      },
      { file, ids: [e2e, 'gateway.reconnect.http-restart', 'gateway.reconnect.stdio-exit'], reason },
    ];
  }),
  ...[
    ['gateway.policy.verbatim', 'gateway.deny.default', 'gateway.deny.shape'],
    ['gateway.hide.list', 'gateway.deny.action'],
    ['gateway.limit.fixed-window', 'gateway.limit.window-reset', 'gateway.limit.output-schema'],
    ['gateway.conditions.deny-if', 'gateway.conditions.require', 'gateway.conditions.glob'],
    ['gateway.policy.reload', 'gateway.policy.reload-invalid'],
  ].map((ids) => ({
    file: 'packages/harness/test/gateway-policy.test.ts',
    ids,
    reason: pending('gateway-core (issue 10)'),
  })),
  {
    file: 'packages/harness/test/gateway-reconnect.test.ts',
    ids: ['gateway.reconnect.stdio-exit', 'gateway.reconnect.in-flight'],
    reason: pending('gateway-core (issue 10)'),
  },
  {
    file: 'packages/harness/test/mqtt-reconnect.test.ts',
    ids: ['mqtt.reconnect.status', 'mqtt.reconnect.publish-fails', 'mqtt.reconnect.restores'],
    reason: OUTAGE,
  },
  {
    file: 'packages/harness/test/mqtt-reconnect.test.ts',
    ids: ['mqtt.reconnect.publish-fails', 'mqtt.reconnect.restores'],
    reason: OUTAGE,
  },
  {
    file: 'packages/harness/test/sandbox-e2e.test.ts',
    ids: ['sandbox.start.ready', 'sandbox.tier.real'],
    reason: pending('ssh-jobs'),
  },
  {
    file: 'packages/harness/test/sandbox-e2e.test.ts',
    ids: ['sandbox.policy.limit', 'sandbox.feed'],
    reason: pending('ssh-jobs'),
  },
];
