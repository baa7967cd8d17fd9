/**
 * Baselines say why each failure is expected, and a run is judged against them the way the suite
 * itself judges: a failure not in the baseline fails the run, and so does an entry that now passes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judge, loadBaseline, parseBaseline } from '../src/conformance/baseline.js';
import { runConformance } from '../src/conformance/runner.js';
import { type RunningService, startOwnMqttServer } from '../src/suites/own-targets.js';

describe('conformance baselines', () => {
  it('need a reason on every entry', () => {
    expect(() => parseBaseline('server:\n  - ping\n', 'b.yml')).toThrow("line 2: 'ping' says not why");
    expect(() => parseBaseline('client:\n  - initialize # no\n', 'b.yml')).toThrow("only a 'server:' list");
    expect(parseBaseline('# why\nserver:\n  - ping # the reason\n', 'b.yml').entries).toEqual([
      { scenario: 'ping', reason: 'the reason' },
    ]);
    // Someone else's baseline, in the suite's plain format, is read without reasons.
    expect(parseBaseline('server:\n  - ping\n', 'b.yml', false).entries).toEqual([
      { scenario: 'ping', reason: '' },
    ]);
  });

  it('checked in here all parse, with a reason for every entry', () => {
    for (const name of [
      'bastion-mqtt.yml',
      'bastion-ssh.yml',
      'fixture.yml',
      'gateway-bastion-mqtt.yml',
      'gateway-bastion-ssh.yml',
      'gateway-fixture.yml',
    ]) {
      const baseline = loadBaseline(name);
      for (const entry of baseline.entries)
        expect(entry.reason.length, `${name}: ${entry.scenario}`).toBeGreaterThan(20);
    }
  });
});

describe('a conformance run judged against a baseline', () => {
  let server: RunningService;
  let dir: string;
  beforeAll(async () => {
    server = await startOwnMqttServer();
    dir = await mkdtemp(join(tmpdir(), 'bastion-baseline-'));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails on a failure the baseline does not list', async () => {
    const path = join(dir, 'empty.yml');
    await writeFile(path, 'server: []\n');
    const run = await runConformance({
      url: `${server.baseUrl}/mcp`,
      baseline: path,
      scenario: 'tools-call-image',
    });
    expect(run.exitCode).toBe(1);
    expect(run.unexpectedFailures).toEqual(['tools-call-image']);
    expect(judge(run, parseBaseline('server: []\n', path)).unexpectedFailures).toEqual(['tools-call-image']);
    expect(run.scenarios).toMatchObject([
      { scenario: 'tools-call-image', ok: false, firstError: 'No image content found' },
    ]);
  });

  it('fails on a baseline entry that passes', async () => {
    const text = 'server:\n  - ping # wrongly expected to fail\n';
    const path = join(dir, 'stale.yml');
    await writeFile(path, text);
    const run = await runConformance({ url: `${server.baseUrl}/mcp`, baseline: path, scenario: 'ping' });
    expect(run.exitCode).toBe(1);
    expect(run.staleEntries).toEqual(['ping']);
    expect(judge(run, parseBaseline(text, path)).staleEntries).toEqual(['ping']);
  });
});
