/**
 * Every behaviour the harness checks, as data (after the MCP TypeScript SDK's
 * test/e2e/requirements.ts). Tests cite the ids they verify with `verifies(id)`, or, for a
 * requirement verified per protocol era, `verifies(id, { era })`; citing an unknown id (or an era
 * the requirement does not have) throws, and test/requirements-coverage.test.ts fails when an id,
 * or an (id, era) pair, is verified nowhere. Each suite keeps its list in its own file.
 */
import { conformanceRequirements } from './conformance.js';
import { fuzzRequirements } from './fuzz.js';
import { gatewayRequirements } from './gateway.js';
import { gatewayCoreRequirements } from './gateway-core.js';
import { harnessRequirements } from './harness.js';
import { httpRequirements } from './http.js';
import { mqttRequirements } from './mqtt.js';
import { oversightRequirements } from './oversight.js';
import { reconnectRequirements } from './reconnect.js';
import { replicasRequirements } from './replicas.js';
import { sandboxRequirements } from './sandbox.js';
import { sshRequirements } from './ssh.js';
import { taskRequirements } from './tasks.js';
import type { Era, Requirement } from './types.js';

export { ERAS, type Era, type Requirement, type Suite } from './types.js';

export const REQUIREMENTS: ReadonlyArray<Requirement> = [
  ...httpRequirements,
  ...mqttRequirements,
  ...sshRequirements,
  ...taskRequirements,
  ...gatewayRequirements,
  ...gatewayCoreRequirements,
  ...oversightRequirements,
  ...reconnectRequirements,
  ...replicasRequirements,
  ...sandboxRequirements,
  ...conformanceRequirements,
  ...harnessRequirements,
  ...fuzzRequirements,
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
 *
 * A requirement with `eras` is cited once per era, alone: `verifies('conformance.mqtt.set',
 * { era: '2026-07-28' })` gives `[conformance.mqtt.set] (2026-07-28) <statement>`. Citing it without
 * an era, or with one it does not have, throws; so does an era for a requirement without eras.
 */
export function verifies(...ids: [string, ...string[]]): string;
export function verifies(id: string, options: { era: Era }): string;
export function verifies(...args: [string, ...Array<string | { era: Era }>]): string {
  const last = args.at(-1);
  if (typeof last === 'object') {
    const [id] = args;
    const { eras } = requirement(id);
    if (args.length !== 2 || eras === undefined || !eras.includes(last.era))
      throw new Error(
        `'${id}' is not verified per era '${last.era}' (its eras: ${eras?.join(', ') ?? 'none'})`,
      );
    return `[${id}] (${last.era}) ${requirement(id).statement}`;
  }
  const ids = args as string[];
  for (const id of ids)
    if (requirement(id).eras !== undefined)
      throw new Error(`'${id}' is verified per era: cite it as verifies('${id}', { era })`);
  return `[${ids.join(', ')}] ${ids.map((id) => requirement(id).statement).join('; ')}`;
}
