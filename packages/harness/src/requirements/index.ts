/**
 * Every behaviour the harness checks, as data (after the MCP TypeScript SDK's
 * test/e2e/requirements.ts). Tests cite the ids they verify with `verifies(id)`; citing an unknown
 * id throws, and test/requirements-coverage.test.ts fails when an id is verified nowhere.
 * Each suite keeps its list in its own file.
 */
import { gatewayRequirements } from './gateway.js';
import { httpRequirements } from './http.js';
import { mqttRequirements } from './mqtt.js';
import { reconnectRequirements } from './reconnect.js';
import { sandboxRequirements } from './sandbox.js';
import { sshRequirements } from './ssh.js';
import type { Requirement } from './types.js';

export type { Requirement, Suite } from './types.js';

export const REQUIREMENTS: ReadonlyArray<Requirement> = [
  ...httpRequirements,
  ...mqttRequirements,
  ...sshRequirements,
  ...gatewayRequirements,
  ...reconnectRequirements,
  ...sandboxRequirements,
];

const byId = new Map(REQUIREMENTS.map((r) => [r.id, r]));
if (byId.size !== REQUIREMENTS.length) throw new Error('duplicate requirement id');

export function requirement(id: string): Requirement {
  const found = byId.get(id);
  if (found === undefined) throw new Error(`unknown requirement id '${id}'`);
  return found;
}

/**
 * A test title that cites requirement ids: `it(verifies('mqtt.tools.connect-text'), ...)` gives
 * `[mqtt.tools.connect-text] <statement>`. Throws on an unknown id so a typo cannot pass.
 */
export function verifies(...ids: [string, ...string[]]): string {
  const statements = ids.map((id) => requirement(id).statement);
  return `[${ids.join(', ')}] ${statements.join('; ')}`;
}
