/** The fixture upstream over stdio, as the gateway spawns it: `node --import tsx stdio-server.ts`. */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createFixtureServer } from './server.js';

const server = createFixtureServer();
await server.connect(new StdioServerTransport());
// The gateway ends an upstream session by closing its stdin.
process.stdin.on('end', () => process.exit(0));
