/** Which peer proxy the benchmark runs, and how; kept apart so the report need not load it. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const PEER_PROXY_NAME = 'mcp-proxy';

/** The installed version, for the report. */
export function peerProxyVersion(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('mcp-proxy/package.json');
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

export const PEER_PROXY_MODE =
  'library: startHTTPServer + proxyServer, Streamable HTTP -> Streamable HTTP, one upstream session per client session, eventStore off';
