/**
 * What keeps a run from leaving anything behind: the global setup's run state reaches the tests, the
 * targets' temp files live under the run directory, and the sweep kills what a dead worker would
 * have left running and removes the run's containers and networks.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, getContainerRuntimeClient } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import {
  dockerAvailability,
  imageFor,
  removeRunContainers,
  removeRunNetworks,
} from '../src/targets/container.js';
import { makeTempDir, RUN_LABEL, type RunScope, sweepRun, trackChild } from '../src/targets/run-scope.js';
import { runState } from '../src/testing/run-state.js';
import { describeEachTier, type TargetProvider, tierSelection } from '../src/testing/tiers.js';

function scratchScope(): RunScope {
  return { id: `test-${process.pid}-${Date.now()}`, dir: mkdtempSync(join(tmpdir(), 'bastion-scope-test-')) };
}

describe('run scope', () => {
  it("hands the global setup's run state to every test file", () => {
    const state = runState();
    expect(state).toBeDefined();
    expect(state?.dir).toBe(process.env.BASTION_RUN_DIR);
    expect(state?.pkiDir).not.toBeNull();
    expect(readdirSync(state?.pkiDir ?? '')).toEqual(
      expect.arrayContaining(['ca.crt', 'client.crt', 'client.key', 'server.crt', 'server.key']),
    );
    if (tierSelection().selected.has('container')) expect(state?.preflight.container).toBeDefined();
  });

  it("puts the targets' temp directories under the run directory", async () => {
    const dir = await makeTempDir('bastion-scope-check-');
    expect(dir.startsWith(`${runState()?.dir}/`)).toBe(true);
  });

  it('kills a recorded process its owner never stopped, and removes the run directory', async () => {
    const scope = scratchScope();
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_, signal) => resolve(signal)),
    );
    trackChild(child, 'forgotten sleep', scope);
    expect(readdirSync(join(scope.dir, 'pids'))).toEqual([String(child.pid)]);

    const swept = sweepRun(scope);
    expect(swept.killed).toEqual([`forgotten sleep (${child.pid})`]);
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(scope.dir)).toBe(false);
  });

  it('forgets a process once it has exited, so the sweep never signals a reused PID', async () => {
    const scope = scratchScope();
    const child = spawn('true', [], { stdio: 'ignore' });
    trackChild(child, 'short-lived', scope);
    await new Promise((resolve) => child.once('exit', resolve));
    expect(readdirSync(join(scope.dir, 'pids'))).toEqual([]);
    expect(sweepRun(scope).killed).toEqual([]);
  });
});

const dockerProvider: TargetProvider<{ stop(): Promise<void> }> = {
  kind: 'docker-engine',
  tier: 'container',
  availability: () => dockerAvailability(),
  start: async () => ({ stop: async () => {} }),
};

describeEachTier('run scope containers', [dockerProvider], () => {
  it('removes every container labelled with the run, running or killed', async () => {
    const scope = scratchScope();
    const image = imageFor('BASTION_MOSQUITTO_IMAGE', 'eclipse-mosquitto:2');
    const labels = { [RUN_LABEL]: scope.id };
    await new GenericContainer(image).withLabels(labels).withCommand(['sleep', '600']).start();
    const killed = await new GenericContainer(image).withLabels(labels).withCommand(['sleep', '600']).start();
    const client = await getContainerRuntimeClient();
    await client.container.getById(killed.getId()).kill({ signal: 'SIGKILL' });

    expect(await removeRunContainers(scope.id)).toBe(2);
    const left = await client.container.dockerode.listContainers({
      all: true,
      filters: { label: [`${RUN_LABEL}=${scope.id}`] },
    });
    expect(left).toEqual([]);
    sweepRun(scope);
  });

  it('removes every network labelled with the run, once its containers are gone', async () => {
    const scope = scratchScope();
    const client = await getContainerRuntimeClient();
    const labels = { [RUN_LABEL]: scope.id };
    const network = await client.container.dockerode.createNetwork({
      Name: `bastion-scope-${scope.id}`,
      Internal: true,
      Labels: labels,
    });
    const image = imageFor('BASTION_MOSQUITTO_IMAGE', 'eclipse-mosquitto:2');
    await new GenericContainer(image)
      .withLabels(labels)
      .withNetworkMode(network.id)
      .withCommand(['sleep', '600'])
      .start();

    expect(await removeRunContainers(scope.id)).toBe(1);
    expect(await removeRunNetworks(scope.id)).toBe(1);
    const left = await client.container.dockerode.listNetworks({
      filters: { label: [`${RUN_LABEL}=${scope.id}`] },
    });
    expect(left).toEqual([]);
    sweepRun(scope);
  });
});
