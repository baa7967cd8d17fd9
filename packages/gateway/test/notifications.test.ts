import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decideNotification } from '../src/policy/notifications.js';
import { policy } from './helpers.js';
import {
  callTool,
  startTestGateway,
  startUpstream,
  type TestGateway,
  type TestUpstream,
} from './upstream.js';

const message = (topic: string) => ({
  method: 'notifications/message',
  params: { level: 'info', logger: 'mqtt', data: { connection: 'default', topic, payload: 'p' } },
});
const logLine = { method: 'notifications/message', params: { level: 'info', data: 'started' } };
const listChanged = { method: 'notifications/tools/list_changed' };
const updated = { method: 'notifications/resources/updated', params: { uri: 'x://y' } };

const POLICY_MD_MQTT = policy({
  version: '1',
  default: 'deny',
  tools: {
    mqttDisconnect: {
      limits: [{ counter: 'mqttdisconnect_rate', window: 'minute', max: 60, scope: 'grant' }],
    },
  },
});

describe('decideNotification', () => {
  it("drops pushed MQTT messages when mqttReadMessages is denied (POLICY.md's MQTT policy), and nothing else", () => {
    expect(decideNotification(POLICY_MD_MQTT, message('plant/1/temp'))).toEqual({
      action: 'drop',
      rule: '(default deny)',
      reason:
        "decided as a call of 'mqttReadMessages' ((default as_tool)): the tool is not allowed (default deny)",
    });
    expect(decideNotification(POLICY_MD_MQTT, logLine)).toEqual({ action: 'allow' });
    expect(decideNotification(POLICY_MD_MQTT, listChanged)).toEqual({ action: 'allow' });
    expect(decideNotification(POLICY_MD_MQTT, updated)).toEqual({ action: 'allow' });
  });

  it('decides a message as that read: action deny, hidden, and the topic rules of its rule', () => {
    const denied = policy({
      version: '1',
      default: 'allow',
      tools: { mqttReadMessages: { action: 'deny' } },
    });
    expect(decideNotification(denied, message('a'))).toMatchObject({
      action: 'drop',
      rule: '/tools/mqttReadMessages/action',
    });
    const hidden = policy({ version: '1', default: 'allow', hide: ['mqttReadMessages'] });
    expect(decideNotification(hidden, message('a'))).toMatchObject({ action: 'drop', rule: '(hidden)' });
    expect(decideNotification(policy({ version: '1', default: 'allow' }), message('a'))).toEqual({
      action: 'allow',
    });
    const topics = policy({
      version: '1',
      default: 'deny',
      tools: {
        mqttReadMessages: {
          deny_if: [{ path: 'args.topic', op: 'glob', value: 'secret/#', syntax: 'mqtt' }],
          // Not about pushed data: a pushed message has no limit argument, so this does not apply.
          require: [{ path: 'args.limit', op: 'lte', value: 10 }],
        },
      },
    });
    expect(decideNotification(topics, message('secret/keys'))).toMatchObject({
      action: 'drop',
      rule: '/tools/mqttReadMessages/deny_if/0',
    });
    expect(decideNotification(topics, message('public/x'))).toEqual({ action: 'allow' });
  });

  it('drops the methods a policy denies, follows its own as_tool, and passes only protocol ones without a policy', () => {
    const own = policy({
      version: '1',
      default: 'allow',
      tools: { watch: { require: [{ path: 'args.uri', op: 'regex', value: '^public://' }] } },
      notifications: {
        deny: ['notifications/tools/list_changed'],
        as_tool: [{ method: 'notifications/resources/updated', tool: 'watch', args: { uri: 'params.uri' } }],
      },
    });
    expect(decideNotification(own, listChanged)).toMatchObject({
      action: 'drop',
      rule: '/notifications/deny/0',
    });
    expect(decideNotification(own, updated)).toMatchObject({
      action: 'drop',
      rule: '/tools/watch/require/0',
    });
    expect(decideNotification(own, { ...updated, params: { uri: 'public://a' } })).toEqual({
      action: 'allow',
    });
    // Its own as_tool replaces the default one: MQTT messages are then ordinary log lines.
    expect(decideNotification(own, message('secret/x'))).toEqual({ action: 'allow' });
    expect(decideNotification(undefined, message('a'))).toMatchObject({
      action: 'drop',
      rule: '(no policy)',
    });
    expect(decideNotification(undefined, listChanged)).toEqual({ action: 'allow' });
  });
});

describe('pushed notifications through the gateway', () => {
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

  it('withholds MQTT messages the policy does not let the agent read, and passes the rest', async () => {
    gw = await startTestGateway(upstream, {
      version: '1',
      default: 'deny',
      tools: {
        push: {},
        mqttReadMessages: {
          deny_if: [{ path: 'args.topic', op: 'glob', value: 'secret/#', syntax: 'mqtt' }],
        },
      },
    });
    const { client, messages } = await gw.connect();
    await callTool(client, 'push', { topics: ['secret/key', 'public/a', 'secret/b/c', 'public/b'] });
    await vi.waitFor(() => expect(messages).toContain('pushed'));
    expect(messages.map((m) => (typeof m === 'string' ? m : (m as { topic: string }).topic))).toEqual([
      'public/a',
      'public/b',
      'pushed',
    ]);
  });

  it('withholds every MQTT message when mqttReadMessages is denied', async () => {
    gw = await startTestGateway(upstream, { version: '1', default: 'deny', tools: { push: {} } });
    const { client, messages } = await gw.connect();
    await callTool(client, 'push', { topics: ['a', 'b'] });
    await vi.waitFor(() => expect(messages).toContain('pushed'));
    expect(messages).toEqual(['pushed']);
  });
});
