/**
 * Something for an agent to discover on the sandbox's SSH host: a README, a device configuration and
 * a log with a problem in it, which match the telemetry the simulated devices publish (device.ts).
 * Paths are relative to the login's directory (the simulated home, or the scratch directory of a
 * real host).
 */
import { TOPIC_PREFIX } from './device.js';

export function seedFiles(now: Date = new Date()): Record<string, string> {
  const day = now.toISOString().slice(0, 10);
  const at = (hh: string) => `${day}T${hh}Z`;
  return {
    'README.md': `# Greenhouse controller (Bastion sandbox)

This host watches two simulated devices that publish telemetry over MQTT once a second:

- ${TOPIC_PREFIX}/device-1/temperature, .../humidity   (JSON: {"value", "unit", "ts"})
- ${TOPIC_PREFIX}/device-2/temperature, .../humidity
- ${TOPIC_PREFIX}/<device>/status                      (retained: "online" or "offline")
- ${TOPIC_PREFIX}/<device>/info                        (retained: model, firmware, location)

A device takes commands on ${TOPIC_PREFIX}/<device>/command (JSON such as {"led": "on"},
{"interval": 5} or {"reboot": true}) and answers on ${TOPIC_PREFIX}/<device>/command/reply.

Files here:
- config/devices.json   what each device is and its alarm thresholds
- logs/controller.log   what happened today (something needs a look)

Nothing here is real: the files live in memory and vanish when the sandbox stops.
`,
    'config/devices.json': `${JSON.stringify(
      {
        broker: 'the sandbox broker (see the sandbox banner)',
        topicPrefix: TOPIC_PREFIX,
        devices: {
          'device-1': { location: 'greenhouse north', alarms: { temperatureMaxC: 30, humidityMinPct: 40 } },
          'device-2': { location: 'greenhouse south', alarms: { temperatureMaxC: 30, humidityMinPct: 40 } },
        },
      },
      null,
      2,
    )}\n`,
    'logs/controller.log': [
      `${at('06:00:01')} INFO  controller started, 2 devices configured`,
      `${at('06:00:02')} INFO  device-1 online (firmware 1.4.2)`,
      `${at('06:00:02')} INFO  device-2 online (firmware 1.3.9)`,
      `${at('07:12:45')} WARN  device-2 humidity below 40% for 10 minutes (38.5%)`,
      `${at('07:13:00')} INFO  device-2 misting valve opened`,
      `${at('07:31:17')} INFO  device-2 humidity back to 46.0%`,
      `${at('09:02:11')} ERROR device-2 firmware 1.3.9 is outdated; 1.4.2 fixes the humidity sensor drift`,
      `${at('09:02:11')} INFO  device-2 update deferred until an operator confirms`,
      '',
    ].join('\n'),
  };
}
