/**
 * Where a connection really goes. A host key trusted on first use belongs to an endpoint, the address
 * the TCP connection reached plus the port, not to the spelling of the host's name: `127.0.0.1`,
 * `localhost` (when it resolves there) and `::ffff:127.0.0.1` reach the same socket and share one
 * pin, while `::1` is another address, so another endpoint with a pin of its own. Before, each
 * spelling counted as a first use, so a changed key could be accepted just by writing the name
 * differently.
 *
 * Behind a jump host the address is resolved by the jump host, out of our sight: such an endpoint is
 * the name as given plus the endpoint of the hop that reached it (`10.0.0.2:22 via 192.0.2.1:22`),
 * so that `localhost` seen from a jump host never shares a pin with this machine's `localhost`.
 */
import { isIP, connect as netConnect } from 'node:net';
import { SshError } from './errors.js';
import type { Tunnel } from './ssh-client.js';

/** One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 compressed and lower case. */
export function canonicalAddress(address: string): string {
  const bare = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIP(bare) === 6) {
    // The WHATWG URL parser prints IPv6 in RFC 5952 form (zeros compressed, lower case).
    const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    const remapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (remapped?.[1] !== undefined && remapped[2] !== undefined) {
      const hi = Number.parseInt(remapped[1], 16);
      const lo = Number.parseInt(remapped[2], 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return canonical;
  }
  return bare;
}

/** `host:port`, with IPv6 addresses in brackets; names lower case. */
export function endpointName(host: string, port: number): string {
  const canonical = canonicalAddress(host);
  return isIP(canonical) === 6 ? `[${canonical}]:${port}` : `${canonical}:${port}`;
}

/** The endpoint of host:port reached through the hop whose endpoint is `parent`. */
export function endpointThrough(parent: string, host: string, port: number): string {
  return `${endpointName(host, port)} via ${parent}`;
}

/**
 * Opens a TCP connection to host:port and names the endpoint it reached. `label` (user@host:port)
 * is what error messages call the target. ssh2 then runs over the socket (ConnectParams.via).
 */
export function openTcp(host: string, port: number, timeoutMs: number, label: string): Promise<Tunnel> {
  return new Promise<Tunnel>((resolve, reject) => {
    const socket = netConnect({ host, port });
    // Errors after the hand-over reach ssh2's own listener; this one keeps an early one from throwing.
    socket.on('error', () => {});
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const close = async () => {
      socket.destroy();
      await closed;
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SshError('CONNECT_TIMEOUT', `no TCP connection to ${label} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      const code = err.code ? ` (${err.code})` : '';
      reject(
        new SshError(
          'CONNECT_FAILED',
          `could not connect to ${label}${code}: ${err.message}`,
          {},
          { cause: err },
        ),
      );
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      const address = socket.remoteAddress;
      if (address === undefined) {
        socket.destroy();
        reject(new SshError('CONNECT_FAILED', `could not connect to ${label}: the socket closed at once`));
        return;
      }
      resolve({ stream: socket, endpoint: endpointName(address, port), close });
    });
  });
}
