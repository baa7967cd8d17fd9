import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { conditionsStep } from '../src/pipeline/steps/conditions.js';
import { withSchemaDefaults } from '../src/policy/defaults.js';
import { context, fakeTarget, policy } from './helpers.js';
import {
  callTool,
  startTestGateway,
  startUpstream,
  type TestGateway,
  type TestUpstream,
  textOf,
} from './upstream.js';

const filled = (args: Record<string, unknown>, schema: unknown) => {
  const result = withSchemaDefaults(args, schema);
  if (!result.ok) throw new Error(result.reason);
  return result.args;
};

describe('schema defaults', () => {
  it('fills in defaults at every depth, through $ref and allOf, and leaves given values and the input alone', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        port: { type: 'integer', default: 22 },
        options: { $ref: '#/$defs/options', default: {} },
        list: { type: 'array', items: { type: 'object', properties: { qos: { default: 0 } } } },
      },
      allOf: [{ properties: { retain: { type: 'boolean', default: false } } }],
      $defs: { options: { type: 'object', properties: { keepalive: { default: 30 } } } },
    };
    const args = { list: [{}, { qos: 2 }] };
    expect(filled(args, schema)).toEqual({
      port: 22,
      options: { keepalive: 30 },
      list: [{ qos: 0 }, { qos: 2 }],
      retain: false,
    });
    expect(args).toEqual({ list: [{}, { qos: 2 }] });
    expect(filled({ port: 2222 }, schema)).toMatchObject({ port: 2222 });
  });

  it('reads draft-07 schemas too, and leaves arguments alone without a schema or defaults', () => {
    const draft7 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { port: { default: 1883 } },
      definitions: {},
    };
    expect(filled({}, draft7)).toEqual({ port: 1883 });
    const args = { a: 1 };
    expect(filled(args, undefined)).toBe(args);
    expect(filled(args, { type: 'object', properties: { a: { type: 'number' } } })).toBe(args);
  });

  it('says so when the schema cannot be compiled', () => {
    const broken = { type: 'object', properties: { a: { $ref: '#/nowhere', default: 1 } } };
    expect(withSchemaDefaults({}, broken)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/cannot be read/),
    });
  });

  it('lets deny_if see the default port, and refuses a rule with conditions when the schema is unreadable', async () => {
    const p = policy({
      version: '1',
      default: 'deny',
      tools: { connect: { deny_if: [{ path: 'args.port', op: 'eq', value: 22 }] } },
    });
    const target = fakeTarget(['connect']);
    target.inputSchema = () => ({ type: 'object', properties: { port: { type: 'integer', default: 22 } } });
    const rule = p.rules.get('connect');
    const ctx = context({
      tool: 'connect',
      target,
      args: { host: 'h' },
      policy: p,
      ...(rule ? { rule } : {}),
    });
    const result = await conditionsStep.run(ctx, async () => ({ content: [] }));
    expect(result.isError).toBe(true);
    expect(ctx.decision?.rule).toBe('/tools/connect/deny_if/0');
    expect(ctx.args).toEqual({ host: 'h' });
    expect(ctx.effectiveArgs).toEqual({ host: 'h', port: 22 });

    target.inputSchema = () => ({ type: 'object', properties: { port: { $ref: '#/missing', default: 22 } } });
    const again = context({
      tool: 'connect',
      target,
      args: { host: 'h' },
      policy: p,
      ...(rule ? { rule } : {}),
    });
    expect((await conditionsStep.run(again, async () => ({ content: [] }))).isError).toBe(true);
    expect(again.decision?.reason).toMatch(/inputSchema cannot be read/);
  });
});

describe('schema defaults through the gateway', () => {
  let upstream: TestUpstream;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });
  afterAll(async () => {
    await upstream.stop();
  });

  it('denies a connect without port when the schema defaults it to 22, and forwards the arguments as sent', async () => {
    gw = await startTestGateway(upstream, {
      version: '1',
      default: 'deny',
      tools: {
        connect: {
          deny_if: [
            { path: 'args.port', op: 'eq', value: 22 },
            { path: 'args.options.keepalive', op: 'lt', value: 10 },
          ],
        },
      },
    });
    const { client } = await gw.connect();
    const denied = await callTool(client, 'connect', { host: 'h', username: 'u' });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toBe('[POLICY DENIED] denied because args.port eq 22');
    const allowed = await callTool(client, 'connect', { host: 'h', username: 'u', port: 2222 });
    expect(allowed.isError).toBeFalsy();
    // The upstream echoes what it received after its own defaults: the gateway added nothing.
    expect(JSON.parse(textOf(allowed))).toEqual({
      host: 'h',
      username: 'u',
      port: 2222,
      options: { keepalive: 30 },
    });
  });
});
