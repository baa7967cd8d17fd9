/**
 * What the sandbox prints for a person: where everything is, ready-to-paste client configurations,
 * and one line per gateway decision. `--json` prints the same facts as JSON Lines instead (for
 * scripts and the end-to-end tests).
 */
import type { DecisionEvent } from './feed.js';
import type { SandboxEvent, SandboxInfo } from './sandbox.js';

function shellLine(info: SandboxInfo): string {
  switch (info.shell) {
    case 'simulated':
      return `simulated shell (just-bash): in-memory files in ${info.ssh.filesDir}, nothing of this machine is reachable`;
    case 'host':
      return `REAL shell of this machine (/bin/sh), starting in ${info.ssh.filesDir}`;
    case 'sshd':
      return `REAL shell of this machine's sshd login; the sandbox files are in ${info.ssh.filesDir}`;
    case 'container':
      return `real shell inside the container; the sandbox files are in ${info.ssh.filesDir}`;
  }
}

export function mcpServersConfig(info: SandboxInfo): Record<string, unknown> {
  const headers = { Authorization: `Bearer ${info.token}` };
  return {
    mcpServers: {
      'bastion-mqtt': { type: 'http', url: info.gateway.servers.mqtt.mcp, headers },
      'bastion-ssh': { type: 'http', url: info.gateway.servers.ssh.mcp, headers },
    },
  };
}

/** Claude Desktop starts stdio servers; mcp-remote bridges one to an HTTP server with a header. */
export function claudeDesktopConfig(info: SandboxInfo): Record<string, unknown> {
  const bridge = (url: string) => ({
    command: 'npx',
    args: ['-y', 'mcp-remote', url, '--header', `Authorization: Bearer ${info.token}`],
  });
  return {
    mcpServers: {
      'bastion-mqtt': bridge(info.gateway.servers.mqtt.mcp),
      'bastion-ssh': bridge(info.gateway.servers.ssh.mcp),
    },
  };
}

export function mqttxConfig(info: SandboxInfo): Record<string, unknown> {
  return {
    mcpServers: {
      'bastion-mqtt': {
        url: info.gateway.servers.mqtt.sse,
        ...(info.anonymous ? {} : { headers: { Authorization: `Bearer ${info.token}` } }),
      },
    },
  };
}

function sshLogin(info: SandboxInfo): string {
  const { ssh } = info;
  if (ssh.password !== undefined) return `user ${ssh.username}, password ${ssh.password}`;
  return `user ${ssh.username}, private key in ${ssh.privateKeyFile ?? '(none)'} (pass its text as privateKey)`;
}

/** The banner printed once everything is up. */
export function banner(info: SandboxInfo): string {
  const { gateway, broker, ssh } = info;
  const pad = (label: string) => `  ${label.padEnd(13)}`;
  const prompt = [
    `Connect to the MQTT broker at ${broker.host}:${broker.port}, subscribe to ${info.telemetry.prefix}/#`,
    `and tell me how the devices are doing. Then log in over SSH to ${ssh.host}:${ssh.port}`,
    `(${sshLogin(info)}), read ${ssh.startsInFilesDir ? 'README.md' : `${ssh.filesDir}/README.md`} and check the logs for problems.`,
  ];
  const lines = [
    '',
    `Bastion sandbox is running (tier ${info.tier}). Ctrl-C stops everything.`,
    '',
    'Gateway (MCP over HTTP, in front of both servers)',
    `${pad('MQTT server')}${gateway.servers.mqtt.mcp}   (legacy SSE: ${gateway.servers.mqtt.sse})`,
    `${pad('SSH server')}${gateway.servers.ssh.mcp}   (legacy SSE: ${gateway.servers.ssh.sse})`,
    `${pad('Grant token')}${info.token}   (new each run; header Authorization: Bearer <token>)`,
    ...(info.anonymous
      ? [`${pad('Anonymous')}allowed too (--anonymous): calls without a token pass the same policy`]
      : []),
    `${pad('Console')}${info.console.url}   (approve calls, accept changed tools, grants)`,
    `${pad('Admin token')}${info.console.token}   (new each run; sign in to the console with it)`,
    `${pad('Policy')}${info.policyPath}   (edit and save: the gateway reloads it; uploadFile needs approval)`,
    `${pad('Audit log')}${info.auditPath}`,
    '',
    'Targets (what the agent connects to through the tools)',
    `${pad('MQTT broker')}${broker.host}:${broker.port}   (${broker.implementation}, anonymous; devices publish on ${info.telemetry.prefix}/#)`,
    `${pad('SSH host')}${ssh.host}:${ssh.port}   ${sshLogin(info)}`,
    `${pad('')}${shellLine(info)}`,
    `${pad('')}host key ${ssh.fingerprint} (already trusted by the SSH server)`,
    ...(info.shell === 'host'
      ? [
          '',
          "  !!! WARNING: --ssh-shell host runs the agent's commands in a REAL shell on this machine, as the",
          '  !!! user running the sandbox. The scratch directory is only where they start: nothing confines them.',
        ]
      : []),
    '',
    'Clients that speak Streamable HTTP (Claude Code .mcp.json, Cursor, Windsurf, ...):',
    JSON.stringify(mcpServersConfig(info), null, 2),
    '',
    'Claude Desktop (claude_desktop_config.json; mcp-remote bridges stdio to HTTP):',
    JSON.stringify(claudeDesktopConfig(info), null, 2),
    '',
    'MQTTX (Settings > MCP):',
    JSON.stringify(mqttxConfig(info), null, 2),
    '',
    `MCP Inspector: npx @modelcontextprotocol/inspector, transport Streamable HTTP, URL ${gateway.servers.mqtt.mcp},`,
    `  header Authorization: Bearer ${info.token}`,
    '',
    'Something to ask the agent:',
    ...prompt.map((l) => `  ${l}`),
    '',
    'Live decisions (time, server, tool, decision, rule, upstream latency):',
  ];
  return `${lines.join('\n')}\n`;
}

function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}

export function decisionLine(d: DecisionEvent): string {
  const latency = d.upstream === undefined ? '-' : `${d.upstream.latencyMs.toFixed(1)} ms`;
  const outcome = d.upstream !== undefined && d.upstream.outcome !== 'ok' ? ` (${d.upstream.outcome})` : '';
  const why = d.decision === 'deny' ? `   ${d.reason}` : '';
  return `${clock(d.time)}  ${d.server.padEnd(4)}  ${d.tool.padEnd(16)}  ${d.decision.padEnd(5)}  ${d.rule.padEnd(28)}  ${latency}${outcome}${why}`;
}

export function eventLine(event: SandboxEvent): string {
  if (event.kind === 'decision') return decisionLine(event.decision);
  const now = clock(new Date().toISOString());
  const e = event.event;
  if (e.kind === 'applied') return `${now}  ${event.server.padEnd(4)}  policy reloaded from ${e.source}`;
  if (e.kind === 'rejected') {
    const problems = e.problems.map((p) => `${p.pointer || '(document)'}: ${p.message}`).join('; ');
    return `${now}  ${event.server.padEnd(4)}  policy change REJECTED, the previous policy stays: ${problems}`;
  }
  return `${now}  ${event.server.padEnd(4)}  policy unchanged`;
}

/** The machine-readable forms (`--json`): one JSON object per line. */
export function readyJson(info: SandboxInfo): string {
  return `${JSON.stringify({ event: 'ready', ...info })}\n`;
}

export function eventJson(event: SandboxEvent): string {
  if (event.kind === 'decision') return `${JSON.stringify({ event: 'decision', ...event.decision })}\n`;
  return `${JSON.stringify({ event: 'policy', server: event.server, ...event.event })}\n`;
}
