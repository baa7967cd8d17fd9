import { describe, expect, it } from 'vitest';
import { ConfigError, hostIsAllowed, parseConfig } from '../src/index.js';

describe('configuration', () => {
  it('has safe defaults: stdio, loopback, port 4100, no local files, no trust on first use', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      transport: 'stdio',
      host: '127.0.0.1',
      port: 4100,
      trustOnFirstUse: false,
      allowHosts: [],
      defaultTimeoutMs: 60_000,
      defaultMaxOutputBytes: 1024 * 1024,
    });
    expect(config.filesRoot).toBeUndefined();
    expect(config.knownHostsFile).toBeUndefined();
  });

  it('reports every problem at once, each naming its flag', () => {
    let error: unknown;
    try {
      parseConfig({
        transport: 'http',
        host: '0.0.0.0',
        port: '70000',
        allowHosts: 'good.example,bad:port,[::1]:99999',
        defaultTimeoutMs: '700000',
        maxTimeoutMs: '600000',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).message;
    expect(problems).toMatch(/^ {2}- --port: /m);
    expect(problems).toMatch(/--allow-hosts: 'bad:port' has a port that is not a number/);
    expect(problems).toMatch(/\[::1\]:99999' has a port outside/);
    expect(problems).toMatch(/--timeout-ms: must not exceed --max-timeout-ms/);
    expect(problems).toMatch(/--auth-token: is required when listening on a non-loopback address/);
    expect(problems).not.toMatch(/defaultTimeoutMs|authToken/);
    expect((error as ConfigError).issues.length).toBeGreaterThanOrEqual(5);
  });

  it('never echoes a too-short auth token', () => {
    const token = 'short-secret';
    expect(() => parseConfig({ authToken: token })).toThrow(
      /--auth-token \(0\): must be at least 16 characters/,
    );
    try {
      parseConfig({ authToken: token });
    } catch (err) {
      expect(String(err)).not.toContain(token);
    }
  });

  it('parses --allow-hosts entries with and without ports', () => {
    const { allowHosts } = parseConfig({ allowHosts: 'db.example.com, 10.0.0.5:2222,[::1]:22' });
    expect(allowHosts).toEqual([
      { host: 'db.example.com', port: undefined },
      { host: '10.0.0.5', port: 2222 },
      { host: '::1', port: 22 },
    ]);
    expect(hostIsAllowed(allowHosts, 'DB.example.com', 22)).toBe(true);
    expect(hostIsAllowed(allowHosts, '10.0.0.5', 2222)).toBe(true);
    expect(hostIsAllowed(allowHosts, '10.0.0.5', 22)).toBe(false);
    expect(hostIsAllowed(allowHosts, '[::1]', 22)).toBe(true);
    expect(hostIsAllowed(allowHosts, 'other.example.com', 22)).toBe(false);
    expect(hostIsAllowed([], 'anything', 1)).toBe(true);
  });

  it('parses --allowed-hosts (the names accepted in Host) as a list, and refuses an empty one', () => {
    const config = parseConfig({ allowedHosts: 'bastion-ssh, localhost,127.0.0.1' });
    expect(config.allowedHosts).toEqual(['bastion-ssh', 'localhost', '127.0.0.1']);
    expect(parseConfig({}).allowedHosts).toBeUndefined();
    expect(() => parseConfig({ allowedHosts: ' , ' })).toThrow(/--allowed-hosts/);
  });
});
