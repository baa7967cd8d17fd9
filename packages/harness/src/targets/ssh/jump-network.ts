/**
 * A target SSH host that only a jump host can reach, for the ProxyJump tests (process tier): two
 * real sshd processes in two network namespaces of their own. The container tier's topology is in
 * jump-containers.ts.
 *
 *   this machine --veth 10.A.B.0/30-- [jump ns: sshd on 10.A.B.2:22] --veth 10.A.B.4/30-- [target ns: sshd on 10.A.B.6:22]
 *
 * The jump namespace does not route (ip_forward 0) and the target namespace has no route beyond its
 * own /30, while this machine has no route to 10.A.B.4/30 other than its default one: the only way
 * to the target is a TCP connection that the jump host's sshd opens (a direct-tcpip channel).
 *
 * Namespaces outlive a process that dies without cleaning up, so their names carry the PID of the
 * process that made them, and `startJumpNetwork` first deletes those whose process is gone.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type { Availability, TargetProvider } from '../../testing/tiers.js';
import { findBinary } from '../process.js';
import { SshdHost, sshdAvailability, sshTestUsersProblem } from './sshd.js';
import type { SshHostTarget } from './types.js';

const run = promisify(execFile);
const PREFIX = 'bastion-jump-';

export interface JumpNetwork {
  readonly tier: 'process' | 'container';
  /** Reachable from here, at jump.host:jump.port. */
  readonly jump: SshHostTarget;
  /** Listening at target.host:target.port, an address only the jump host can reach. */
  readonly target: SshHostTarget;
  /** The jump host's sshd as the jump host itself reaches it (a second hop through the first). */
  readonly jumpFromInside: { host: string; port: number };
  /**
   * The addresses of the link between the two hosts: the target's, and the jump host's that the
   * target sees connections come from. Read again each time (a restarted container may get another).
   */
  innerAddresses(): Promise<{ jump: string; target: string }>;
  /** Whether the target's SSH banner reaches this process, at its inner address, within `timeoutMs`. */
  reachableFromHere(timeoutMs: number): Promise<boolean>;
  /** Whether a TCP connection from inside the jump host to the target completes. */
  reachableFromJump(): Promise<boolean>;
  /** Established TCP connections into each sshd: none once every SSH connection is closed. */
  establishedSessions(): Promise<{ jump: number; target: number }>;
  stop(): Promise<void>;
}

/**
 * Whether an SSH banner arrives from host:port within `timeoutMs`. A banner, not a TCP connect: a
 * transparent proxy on the default route may accept any TCP connection, but only an sshd says
 * `SSH-2.0-OpenSSH...`.
 */
export function sshBannerArrives(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces left by test processes that died before their teardown. */
function sweepStaleNamespaces(): void {
  const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of listed.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(/^bastion-jump-(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && !alive(pid)) {
      try {
        ip('netns', 'del', name);
      } catch {
        // Deleted by someone else meanwhile.
      }
    }
  }
}

export function jumpNetworkAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  const sshd = sshdAvailability(env);
  if (!sshd.available) return sshd;
  if (process.getuid?.() !== 0) {
    return { available: false, reason: 'network namespaces need root (ip netns add)' };
  }
  // The hops log in with the test users' passwords and keys.
  const users = sshTestUsersProblem(env);
  if (users !== undefined) return { available: false, reason: users };
  if (findBinary('ip', env) === undefined || findBinary('ss', env) === undefined) {
    return { available: false, reason: 'no ip or ss binary (Debian: apt-get install iproute2)' };
  }
  return { available: true };
}

function countEstablished(namespace: string, port: number): Promise<number> {
  return run('ip', [
    'netns',
    'exec',
    namespace,
    'ss',
    '-Htn',
    'state',
    'established',
    `( sport = :${port} )`,
  ]).then(({ stdout }) => stdout.split('\n').filter((l) => l.trim() !== '').length);
}

export async function startJumpNetwork(): Promise<JumpNetwork> {
  sweepStaleNamespaces();
  const id = `${process.pid}-${randomInt(0, 0xffff).toString(16)}`;
  const jumpNs = `${PREFIX}${id}-j`;
  const targetNs = `${PREFIX}${id}-t`;
  // Interface names are limited to 15 characters; this one is unique enough for one machine.
  const tag = randomInt(0, 0xffffff).toString(16).padStart(6, '0');
  const net = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
  const made: string[] = [];
  let jump: SshdHost | undefined;
  let target: SshdHost | undefined;
  const stop = async () => {
    await target?.stop();
    await jump?.stop();
    // Deleting a namespace deletes the veth pairs with it.
    for (const ns of made.splice(0)) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Already gone.
      }
    }
  };
  try {
    for (const ns of [jumpNs, targetNs]) {
      ip('netns', 'add', ns);
      made.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', `bjh${tag}`, 'type', 'veth', 'peer', 'name', `bjj${tag}`, 'netns', jumpNs);
    ip('addr', 'add', `${net}.1/30`, 'dev', `bjh${tag}`);
    ip('link', 'set', `bjh${tag}`, 'up');
    ip('-n', jumpNs, 'addr', 'add', `${net}.2/30`, 'dev', `bjj${tag}`);
    ip('-n', jumpNs, 'link', 'set', `bjj${tag}`, 'up');
    ip(
      'link',
      'add',
      `bjt${tag}`,
      'netns',
      jumpNs,
      'type',
      'veth',
      'peer',
      'name',
      `btj${tag}`,
      'netns',
      targetNs,
    );
    ip('-n', jumpNs, 'addr', 'add', `${net}.5/30`, 'dev', `bjt${tag}`);
    ip('-n', jumpNs, 'link', 'set', `bjt${tag}`, 'up');
    ip('-n', targetNs, 'addr', 'add', `${net}.6/30`, 'dev', `btj${tag}`);
    ip('-n', targetNs, 'link', 'set', `btj${tag}`, 'up');
    // A new namespace may inherit forwarding from this machine's; the jump host must not be a router.
    execFileSync('ip', ['netns', 'exec', jumpNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=0']);
    jump = await SshdHost.start({ netns: jumpNs, listenAddress: `${net}.2`, port: 22 });
    target = await SshdHost.start({ netns: targetNs, listenAddress: `${net}.6`, port: 22 });
  } catch (err) {
    await stop();
    throw err;
  }
  const jumpHost = jump;
  const targetHost = target;
  return {
    tier: 'process',
    jump: jumpHost,
    target: targetHost,
    jumpFromInside: { host: jumpHost.host, port: jumpHost.port },
    innerAddresses: async () => ({ jump: `${net}.5`, target: targetHost.host }),
    reachableFromHere: (timeoutMs) => sshBannerArrives(targetHost.host, targetHost.port, timeoutMs),
    reachableFromJump: () =>
      run('ip', [
        'netns',
        'exec',
        jumpNs,
        'timeout',
        '5',
        'bash',
        '-c',
        `exec 3<>/dev/tcp/${targetHost.host}/${targetHost.port}`,
      ]).then(
        () => true,
        () => false,
      ),
    establishedSessions: async () => ({
      jump: await countEstablished(jumpNs, jumpHost.port),
      target: await countEstablished(targetNs, targetHost.port),
    }),
    stop,
  };
}

/** The provider for describeEachTier: the process tier only (namespaces need root and iproute2). */
export const sshJumpNetworkProvider: TargetProvider<JumpNetwork> = {
  kind: 'ssh-jump-network',
  tier: 'process',
  availability: () => jumpNetworkAvailability(),
  start: () => startJumpNetwork(),
};
