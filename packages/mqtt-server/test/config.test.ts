import { describe, expect, it } from 'vitest';
import { brokerAllowed, ConfigError, parseConfig } from '../src/index.js';

describe('configuration', () => {
  it('defaults to stdio, 127.0.0.1:4000, any broker', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ transport: 'stdio', host: '127.0.0.1', port: 4000 });
    expect(config.allowBrokers).toBeUndefined();
    expect(config.authToken).toBeUndefined();
  });

  it('reads command-line strings: numbers and comma lists', () => {
    const config = parseConfig({
      port: '0',
      allowBrokers: 'Broker.Example:1883, [::1]:8883,lan:*',
      maxBufferedMessages: '5',
    });
    expect(config.port).toBe(0);
    expect(config.maxBufferedMessages).toBe(5);
    expect(config.allowBrokers).toEqual([
      { host: 'broker.example', port: 1883 },
      { host: '::1', port: 8883 },
      { host: 'lan', port: '*' },
    ]);
  });

  it('reports every problem at once, each naming its flag', () => {
    let error: unknown;
    try {
      parseConfig({
        port: 'x',
        allowBrokers: 'nohost,a:0',
        transport: 'udp' as 'http',
        authToken: '',
        maxBufferedMessages: 0,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).message.split('\n').slice(1);
    expect(problems).toEqual(
      expect.arrayContaining([
        '  - --port: must be a number',
        "  - --allow-brokers (0): 'nohost' is not host:port (or host:*)",
        "  - --allow-brokers (1): 'a:0' has no valid port (1-65535 or *)",
        '  - --auth-token (0): must be at least 16 characters',
        '  - --buffer-size: Too small: expected number to be >0',
      ]),
    );
    expect(problems.some((p) => p.startsWith('  - --transport:'))).toBe(true);
    expect((error as ConfigError).message).not.toMatch(/maxBufferedMessages|authToken/);
  });

  it('refuses an HTTP bind beyond 127.0.0.1/localhost/::1 without a token, and an identity header without one', () => {
    for (const host of ['127.0.0.2', '0.0.0.0', '192.168.1.10']) {
      expect(() => parseConfig({ transport: 'http', host }), host).toThrow(/--auth-token: is required/);
      expect(parseConfig({ transport: 'http', host, authToken: 'a-long-enough-token' }).authToken).toEqual([
        'a-long-enough-token',
      ]);
    }
    expect(parseConfig({ transport: 'http', host: '127.0.0.1' }).authToken).toBeUndefined();
    expect(() => parseConfig({ identityHeader: 'x-bastion-identity' })).toThrow(
      /--identity-header: needs --auth-token/,
    );
  });

  it('matches brokers by exact host (case-insensitive) and port, or any port with *', () => {
    const allow = parseConfig({ allowBrokers: 'broker.example:1883,lan:*' }).allowBrokers;
    expect(brokerAllowed(allow, 'BROKER.example', 1883)).toBe(true);
    expect(brokerAllowed(allow, 'broker.example', 1884)).toBe(false);
    expect(brokerAllowed(allow, 'lan', 9)).toBe(true);
    expect(brokerAllowed(allow, 'evil.example', 1883)).toBe(false);
    expect(brokerAllowed(undefined, 'anything', 1)).toBe(true);
  });
});
