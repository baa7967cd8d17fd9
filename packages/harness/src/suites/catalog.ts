/**
 * The suites `bastion test` runs: named groups of the harness's test files, and the requirement-id
 * prefixes each one answers for (so the JSON report can say which of a suite's requirements ran).
 * A suite is data; the runner turns it into the list of files vitest runs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export const SUITE_NAMES = [
  'mqtt',
  'ssh',
  'gateway',
  'reconnect',
  'replicas',
  'conformance',
  'fuzz',
  'all',
] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

export interface SuiteDefinition {
  name: SuiteName;
  description: string;
  /** Test files (base names under test/) that belong to the suite. */
  files: ReadonlyArray<RegExp>;
  /** Requirement ids the suite answers for, by prefix. */
  requirementPrefixes: ReadonlyArray<string>;
}

export const SUITES: Readonly<Record<SuiteName, SuiteDefinition>> = {
  mqtt: {
    name: 'mqtt',
    description:
      'the MQTT server: MQTTX tool contract, tools, failures, sessions, MQTT 5, TLS/ws, transports',
    files: [/^mqtt-.*\.test\.ts$/, /^contract-mqtt.*\.test\.ts$/],
    requirementPrefixes: ['mqtt.', 'http.'],
  },
  ssh: {
    name: 'ssh',
    description: 'the SSH server: connect, host keys, exec, files, sessions',
    files: [/^ssh-.*\.test\.ts$/],
    requirementPrefixes: ['ssh.'],
  },
  gateway: {
    name: 'gateway',
    description:
      'the policy gateway: deny, hide, conditions, limits, audit, bypass attempts, proxying, approvals, tool pins, the console (in Chromium too)',
    // console-*: the console's browser tier, whose requirements are gateway.console.browser-*.
    files: [/^gateway-.*\.test\.ts$/, /^contract-gateway.*\.test\.ts$/, /^console-.*\.test\.ts$/],
    requirementPrefixes: ['gateway.'],
  },
  reconnect: {
    name: 'reconnect',
    description: 'what survives a broker, sshd, upstream or gateway that goes away and comes back',
    files: [/^reconnect-.*\.test\.ts$/, /-reconnect\.test\.ts$/],
    requirementPrefixes: ['reconnect.', 'mqtt.reconnect.', 'ssh.reconnect.', 'gateway.reconnect.'],
  },
  replicas: {
    name: 'replicas',
    description:
      'several gateway replicas sharing Redis: exact counters, failing closed, sessions on any replica, audit, traces, containers',
    files: [/^replicas-.*\.test\.ts$/],
    requirementPrefixes: ['replicas.'],
  },
  conformance: {
    name: 'conformance',
    description:
      'the official MCP conformance suite, both requirement sets, against each HTTP server and the fixture',
    files: [/^conformance-.*\.test\.ts$/],
    requirementPrefixes: ['conformance.'],
  },
  fuzz: {
    name: 'fuzz',
    description:
      'a bounded, seeded fuzz run of every HTTP host: no 5xx, no dropped connection, every process still answering',
    files: [/^fuzz-.*\.test\.ts$/],
    requirementPrefixes: ['fuzz.'],
  },
  all: {
    name: 'all',
    description: "every suite above and the harness's own tests (targets, tiers, requirement coverage)",
    // The CLI's own tests run the CLI, and the benchmark's tests belong to `bastion bench`.
    files: [/^(?!cli-|bench-).*\.test\.ts$/],
    requirementPrefixes: [''],
  },
};

/** Which contract file runs in place of a suite when it is pointed at someone else's target. */
export const EXTERNAL_FILES: Readonly<Partial<Record<SuiteName, string>>> = {
  mqtt: 'contract-mqtt.test.ts',
  gateway: 'contract-gateway.test.ts',
  conformance: 'conformance-external.test.ts',
};

export function parseSuites(value: string): SuiteName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of names) {
    if (!(SUITE_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown suite '${name}' (known: ${SUITE_NAMES.join(', ')})`);
    }
  }
  if (names.length === 0) throw new Error('no suite named');
  return names as SuiteName[];
}

/** The test files (absolute paths, sorted) of the given suites, found in `testDir`. */
export function suiteFiles(suites: ReadonlyArray<SuiteName>, testDir: string): string[] {
  const names = readdirSync(testDir).filter((f) => f.endsWith('.test.ts'));
  const chosen = new Set<string>();
  for (const suite of suites) {
    for (const name of names) {
      if (SUITES[suite].files.some((pattern) => pattern.test(name))) chosen.add(name);
    }
  }
  return [...chosen].sort().map((name) => join(testDir, name));
}

/** Requirement prefixes of the given suites (an empty string matches every id). */
export function suitePrefixes(suites: ReadonlyArray<SuiteName>): string[] {
  return [...new Set(suites.flatMap((s) => SUITES[s].requirementPrefixes))];
}
