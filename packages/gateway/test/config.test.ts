import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gatewayConfigJsonSchema, loadConfigFile, policyJsonSchema, resolveConfig } from '../src/config.js';
import { PolicyLoadError } from '../src/policy/problems.js';

const HASH = 'a'.repeat(64);
/** `${NAME}`, the config's environment placeholder. */
const envRef = (name: string) => `\${${name}}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problemsOf(document: unknown, env: Record<string, string> = {}) {
  try {
    resolveConfig(document, { baseDir: dir, env });
  } catch (err) {
    if (err instanceof PolicyLoadError) return err.problems;
    throw err;
  }
  throw new Error('expected problems');
}

describe('gateway config', () => {
  it('resolves servers, grants, anonymous access and paths relative to the config file', async () => {
    const path = join(dir, 'gateway.json');
    await writeFile(
      path,
      JSON.stringify({
        servers: {
          mqtt: { transport: 'stdio', command: 'bastion-mqtt', policy: './mqtt-policy.json' },
          ssh: {
            transport: 'http',
            url: 'http://127.0.0.1:4100/mcp',
            headers: { authorization: `Bearer ${envRef('SSH_TOKEN')}` },
            policy: { version: '1', default: 'deny', tools: { disconnect: {} } },
          },
        },
        grants: {
          alice: { tokenSha256: HASH, servers: ['mqtt', 'ssh'], policy: { ssh: './alice-ssh.json' } },
        },
        anonymous: { servers: ['mqtt'] },
        audit: 'logs/audit.jsonl',
      }),
    );
    const config = await loadConfigFile(path, { SSH_TOKEN: 't0ken' });
    expect(config.servers.get('mqtt')?.policy).toEqual({ kind: 'file', path: join(dir, 'mqtt-policy.json') });
    expect(config.servers.get('ssh')?.upstream).toEqual({
      transport: 'http',
      url: 'http://127.0.0.1:4100/mcp',
      headers: { authorization: 'Bearer t0ken' },
    });
    expect(config.servers.get('ssh')?.policy?.kind).toBe('inline');
    expect(config.grants.get('alice')?.policies.get('ssh')).toEqual({
      kind: 'file',
      path: join(dir, 'alice-ssh.json'),
    });
    expect([...(config.anonymous?.servers ?? [])]).toEqual(['mqtt']);
    expect(config.audit?.path).toBe(join(dir, 'logs/audit.jsonl'));
  });

  it('reports every problem with its pointer, inline policies included', () => {
    const problems = problemsOf({
      servers: {
        mqtt: {
          transport: 'stdio',
          command: 'x',
          policy: { version: '1', default: 'deny', tools: { t: { limits: [{}] } } },
        },
        web: { transport: 'http', url: 'ftp://x', headers: { a: envRef('MISSING') } },
      },
      grants: {
        alice: { tokenSha256: HASH, servers: ['nope'], policy: { web: {} } },
        bob: { tokenSha256: HASH, servers: [] },
      },
    });
    const pointers = problems.map((p) => p.pointer);
    expect(pointers).toContain('/servers/web/url');
    expect(
      problemsOf({
        servers: { web: { transport: 'http', url: 'http://x', headers: { a: envRef('MISSING') } } },
      }),
    ).toEqual([{ pointer: '/servers/web/headers/a', message: 'environment variable MISSING is not set' }]);
    const semantic = problemsOf({
      servers: {
        mqtt: {
          transport: 'stdio',
          command: 'x',
          policy: { version: '1', default: 'deny', tools: { t: { limits: [{}] } } },
        },
      },
      grants: {
        alice: { tokenSha256: HASH, servers: ['nope'], policy: { mqtt: 'p.json' } },
        bob: { tokenSha256: HASH, servers: [] },
        local: { tokenSha256: 'b'.repeat(64), servers: [] },
      },
    }).map((p) => p.pointer);
    expect(semantic).toEqual(
      expect.arrayContaining([
        '/servers/mqtt/policy/tools/t/limits/0/counter',
        '/grants/alice/servers/0',
        '/grants/alice/policy/mqtt',
        '/grants/bob/tokenSha256',
        '/grants/local',
      ]),
    );
  });

  it('treats unknown keys as errors', () => {
    expect(problemsOf({ servers: {}, audits: 'x' })).toEqual([
      { pointer: '/audits', message: 'unknown key' },
    ]);
  });

  it('publishes JSON Schemas that match the zod schemas (regenerate with `pnpm --filter @bastion/gateway schema`)', async () => {
    const root = join(import.meta.dirname, '..');
    expect(JSON.parse(await readFile(join(root, 'gateway-config.schema.json'), 'utf8'))).toEqual(
      gatewayConfigJsonSchema(),
    );
    expect(JSON.parse(await readFile(join(root, 'policy.schema.json'), 'utf8'))).toEqual(policyJsonSchema());
  });
});
