/**
 * Both servers over stdio, started as a desktop client starts them (the bin, one process per
 * client), with the v1 client (2025-11-25) and the v2 client in both eras: each lists the tools and
 * calls one through the client's own callTool. Over stdio the process is the one identity, so the
 * era is pinned by the connection's opening exchange (serveStdio), not by a session.
 */
import { errorDataOf } from '@bastion/mcp-http/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { verifies } from '../src/requirements/index.js';
import { CLIENT_KINDS, connectOfficialClient, type OfficialClient } from '../src/suites/official-clients.js';
import { BASTION_BINS } from '../src/targets/mcp-process.js';

const open: OfficialClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
});

const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };

describe('bastion-mqtt and bastion-ssh over stdio, in both eras', () => {
  for (const kind of CLIENT_KINDS) {
    it(`${verifies('mqtt.eras.stdio')} (${kind})`, async () => {
      const c = await connectOfficialClient(kind, {
        command: process.execPath,
        args: [BASTION_BINS.mqtt, '--log-level', 'error'],
        env,
      });
      open.push(c);
      expect(c.serverName()).toBe('mqtt-server');
      expect((await c.listTools()).map((t) => t.name)).toContain('mqttConnect');
      expect((await c.callTool('mqttStatus')).structuredContent).toEqual({ connections: [] });
      expect(errorDataOf(await c.callTool('mqttPublish', { topic: 'a', payload: 'x' }))?.code).toBe(
        'UNKNOWN_CONNECTION',
      );
    });

    it(`${verifies('ssh.eras.stdio')} (${kind})`, async () => {
      const c = await connectOfficialClient(kind, {
        command: process.execPath,
        args: [BASTION_BINS.ssh, '--log-level', 'error'],
        env,
      });
      open.push(c);
      expect(c.serverName()).toBe('bastion-ssh');
      expect((await c.listTools()).map((t) => t.name)).toContain('exec');
      expect((await c.callTool('listConnections')).structuredContent).toEqual({ connections: [] });
      expect(errorDataOf(await c.callTool('exec', { connectionId: 'nope', command: 'true' }))?.code).toBe(
        'UNKNOWN_CONNECTION',
      );
    });
  }
});
