/**
 * Once per run of the harness project (vitest `globalSetup`), before any test file:
 *   - a run directory and id (targets/run-scope.ts): every target's temp files go under the
 *     directory, every child process is recorded in it, every container is labelled with the id;
 *   - the test PKI, made once and copied by each broker that needs TLS;
 *   - the container tier's check (engine answers, images pulled or built), so a tier that cannot
 *     run is reported with its reason by every suite instead of failing one start at a time, and
 *     its Mosquitto's version, which decides which MQTT tests that tier runs.
 * The state goes to test files through `provide` (read with testing/run-state.ts); the variables go
 * to the workers and the processes they start through the environment.
 *
 * At the end, even when tests failed or a worker died: any process still recorded is killed, any
 * container with the run's label removed, the directory deleted. The same sweep runs synchronously
 * from 'exit' and SIGINT/SIGTERM hooks, for a run that ends without its teardown (Ctrl-C).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { removeRunContainers, removeRunNetworks } from '../src/targets/container.js';
import { createSharedTestPki } from '../src/targets/mqtt/tls.js';
import { containerMosquitto, containerTierPreflight } from '../src/targets/preflight.js';
import { RUN_DIR_ENV, RUN_ID_ENV, type RunScope, sweepRun } from '../src/targets/run-scope.js';
import type { BastionRunState } from '../src/testing/run-state.js';
import { tierSelection } from '../src/testing/tiers.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scope: RunScope = {
    id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
    dir: mkdtempSync(join(tmpdir(), 'bastion-run-')),
  };
  // Services that drop privileges (mosquitto, sshd's logins) must traverse it to their files.
  chmodSync(scope.dir, 0o755);
  process.env[RUN_DIR_ENV] = scope.dir;
  process.env[RUN_ID_ENV] = scope.id;
  const atExit = () => {
    sweepRun(scope);
  };
  // Ctrl-C: without a listener Node ends the process at once and no 'exit' hook runs, so sweep on
  // the signal itself, then let it take its course (re-raised when nobody else handles it).
  const onSignal = (signal: NodeJS.Signals) => {
    unhook();
    sweepRun(scope);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const unhook = () => {
    process.off('exit', atExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.once('exit', atExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const state: BastionRunState = { id: scope.id, dir: scope.dir, pkiDir: null, preflight: {} };
  try {
    state.pkiDir = (await createSharedTestPki()) ?? null;
    if (tierSelection().selected.has('container')) {
      state.preflight.container = await containerTierPreflight();
      if (state.preflight.container.available) state.containerMosquitto = await containerMosquitto();
    }
  } catch (err) {
    unhook();
    sweepRun(scope);
    throw err;
  }
  project.provide('bastionRun', state);

  return async () => {
    unhook();
    let containers = 0;
    let networks = 0;
    try {
      containers = await removeRunContainers(scope.id);
      networks = await removeRunNetworks(scope.id);
    } catch {
      // No engine: then no container either; sweepRun tries the CLI as well.
    }
    const swept = sweepRun(scope);
    containers += swept.containers;
    if (swept.killed.length > 0 || containers > 0 || networks > 0) {
      // Something a test started outlived it: cleaned up here, and said so, because it is a leak.
      process.stderr.write(
        `bastion: the run left ${swept.killed.length} process(es) [${swept.killed.join(', ')}], ${containers} container(s) and ${networks} network(s); removed them\n`,
      );
    }
    delete process.env[RUN_DIR_ENV];
    delete process.env[RUN_ID_ENV];
  };
}
