import type { Requirement } from './types.js';

const transportContract = 'issue #2 (HTTP behaviour shared by every Bastion server)';

export const httpRequirements: Requirement[] = [
  {
    id: 'http.bins.runnable',
    statement:
      'after pnpm install every bin (bastion, bastion-mqtt, bastion-ssh, bastion-gateway) runs from the workspace root as the READMEs write it, with --version and --help',
    source: 'issue #9 item 7',
  },
  {
    id: 'http.host.loopback-default',
    statement: 'binds 127.0.0.1 unless told otherwise',
    source: transportContract,
  },
  {
    id: 'http.host.dns-rebinding',
    statement: 'refuses a request whose Host or Origin names another host with 403',
    source: 'MCP spec, transports: Security Warning (validate Origin)',
  },
  {
    id: 'http.auth.bearer',
    statement: 'with a token configured, refuses a request without it with 401',
    source: transportContract,
  },
  {
    id: 'http.body.limit',
    statement: 'refuses a request body over the size limit with 413',
    source: transportContract,
  },
];
