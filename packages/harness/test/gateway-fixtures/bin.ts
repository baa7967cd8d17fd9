/** The gateway's bin as the harness's dependency on @bastion/gateway installs it. */
import { join } from 'node:path';

export const GATEWAY_BIN = join(
  import.meta.dirname,
  '..',
  '..',
  'node_modules',
  '@bastion',
  'gateway',
  'bin',
  'bastion-gateway.js',
);
