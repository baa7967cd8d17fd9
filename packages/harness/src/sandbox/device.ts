/**
 * Simulated devices for the sandbox: each one an MQTT client that publishes its temperature and
 * humidity once a second, keeps retained `status` (with a will, so a lost device reads "offline")
 * and `info` topics, and answers commands, so an agent has live data to read and something to act on.
 */
import { connectAsync, type MqttClient } from 'mqtt';

export const TOPIC_PREFIX = 'bastion/sandbox';

export interface DeviceSpec {
  id: string;
  model: string;
  firmware: string;
  location: string;
  /** Starting values of the random walk. */
  temperatureC: number;
  humidityPct: number;
}

export const DEFAULT_DEVICES: ReadonlyArray<DeviceSpec> = [
  {
    id: 'device-1',
    model: 'GH-200',
    firmware: '1.4.2',
    location: 'greenhouse north',
    temperatureC: 22.5,
    humidityPct: 55,
  },
  {
    id: 'device-2',
    model: 'GH-200',
    firmware: '1.3.9',
    location: 'greenhouse south',
    temperatureC: 24,
    humidityPct: 42,
  },
];

export interface DeviceFleetOptions {
  /** `mqtt://host:port` */
  url: string;
  username?: string;
  password?: string;
  devices?: ReadonlyArray<DeviceSpec>;
  intervalMs?: number;
}

export interface DeviceFleet {
  close(): Promise<void>;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function walk(value: number, step: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value + (Math.random() * 2 - 1) * step));
}

class SimulatedDevice {
  private timer: NodeJS.Timeout | undefined;
  private rebootTimer: NodeJS.Timeout | undefined;
  private temperature: number;
  private humidity: number;
  private led: 'on' | 'off' = 'off';
  private closed = false;

  constructor(
    private readonly client: MqttClient,
    private readonly spec: DeviceSpec,
    private intervalMs: number,
  ) {
    this.temperature = spec.temperatureC;
    this.humidity = spec.humidityPct;
  }

  private topic(name: string): string {
    return `${TOPIC_PREFIX}/${this.spec.id}/${name}`;
  }

  private publish(name: string, payload: unknown, retain = false): void {
    if (this.closed) return;
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    // Fire and forget at QoS 0: a reading lost while the broker restarts is replaced a second later.
    this.client.publish(this.topic(name), text, { qos: retain ? 1 : 0, retain }, () => {});
  }

  async start(): Promise<void> {
    const { spec } = this;
    await this.client.subscribeAsync(this.topic('command'), { qos: 1 });
    this.client.on('message', (topic, payload) => {
      if (topic === this.topic('command')) this.command(payload.toString('utf8'));
    });
    this.publish('status', 'online', true);
    this.publish('info', { model: spec.model, firmware: spec.firmware, location: spec.location }, true);
    this.publish('led', this.led, true);
    this.tick();
    this.schedule();
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  private tick(): void {
    this.temperature = walk(this.temperature, 0.3, 15, 35);
    this.humidity = walk(this.humidity, 0.8, 30, 80);
    const ts = new Date().toISOString();
    this.publish('temperature', { value: round1(this.temperature), unit: 'C', ts });
    this.publish('humidity', { value: round1(this.humidity), unit: '%', ts });
  }

  private reply(result: Record<string, unknown>): void {
    this.publish('command/reply', { ...result, ts: new Date().toISOString() });
  }

  private command(text: string): void {
    let command: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      command = parsed as Record<string, unknown>;
    } catch {
      this.reply({
        ok: false,
        error: 'expected a JSON object such as {"led": "on"}',
        received: text.slice(0, 200),
      });
      return;
    }
    if (command.led === 'on' || command.led === 'off') {
      this.led = command.led;
      this.publish('led', this.led, true);
      this.reply({ ok: true, led: this.led });
    } else if (typeof command.interval === 'number' && command.interval >= 1 && command.interval <= 60) {
      this.intervalMs = Math.round(command.interval * 1000);
      this.schedule();
      this.reply({ ok: true, interval: command.interval });
    } else if (command.reboot === true) {
      this.publish('status', 'rebooting', true);
      clearInterval(this.timer);
      this.reply({ ok: true, reboot: true });
      this.rebootTimer = setTimeout(() => {
        this.publish('status', 'online', true);
        this.schedule();
      }, 3_000);
    } else {
      this.reply({
        ok: false,
        error: 'unknown command; try {"led": "on"|"off"}, {"interval": 1-60} or {"reboot": true}',
      });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.rebootTimer);
    if (this.client.connected) {
      // A clean stop: say so rather than leave the will to say "offline" for us.
      await this.client
        .publishAsync(this.topic('status'), 'offline', { qos: 1, retain: true })
        .catch(() => {});
    }
    this.closed = true;
    await this.client.endAsync(true);
  }
}

export async function startDeviceFleet(options: DeviceFleetOptions): Promise<DeviceFleet> {
  const specs = options.devices ?? DEFAULT_DEVICES;
  const devices: SimulatedDevice[] = [];
  try {
    for (const spec of specs) {
      const client = await connectAsync(
        options.url,
        {
          clientId: `bastion-sandbox-${spec.id}`,
          ...(options.username === undefined ? {} : { username: options.username }),
          ...(options.password === undefined ? {} : { password: options.password }),
          will: {
            topic: `${TOPIC_PREFIX}/${spec.id}/status`,
            payload: Buffer.from('offline'),
            qos: 1,
            retain: true,
          },
          reconnectPeriod: 1_000,
          connectTimeout: 10_000,
        },
        // Fail at start rather than retry: the broker was started just before.
        false,
      );
      const device = new SimulatedDevice(client, spec, options.intervalMs ?? 1_000);
      devices.push(device);
      await device.start();
    }
  } catch (err) {
    await Promise.all(devices.map((d) => d.close()));
    throw err;
  }
  return {
    async close() {
      await Promise.all(devices.map((d) => d.close()));
    },
  };
}
