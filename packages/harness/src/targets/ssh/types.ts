import type { Stoppable, TargetProvider, Tier } from '../../testing/tiers.js';
import type { FaultSignal } from '../process.js';

/** A login on an SSH host target, with the secrets the tests use. */
export interface SshPasswordLogin {
  username: string;
  password: string;
}

export interface SshKeyLogin {
  username: string;
  /** OpenSSH private key text. */
  privateKey: string;
  /** OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
  publicKey: string;
}

export interface SshHostKey {
  /** `ssh-ed25519 AAAA...` */
  publicKey: string;
  /** `SHA256:...`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

/** An SSH server the tests can connect to, in any tier. */
export interface SshHostTarget extends Stoppable {
  readonly tier: Tier;
  readonly host: string;
  readonly port: number;
  /** The host key the server presents now (it changes after `restart({ newHostKey: true })`). */
  readonly hostKey: SshHostKey;
  /** Undefined where password login is impossible (a non-root `sshd`). */
  readonly passwordLogin: SshPasswordLogin | undefined;
  readonly keyLogin: SshKeyLogin;
  /** A directory on the host every login may write into; removed by `stop()`. */
  readonly scratchDir: string;
  /**
   * Ends the server, then starts it again on the same port (the reconnect scenario). With
   * `newHostKey` it comes back with a different host key (the changed-key scenario).
   * `signal` (default SIGKILL) is how it ends: SIGKILL takes every connection with it; SIGTERM is a
   * clean stop, which for a real sshd ends only the listener, leaving open sessions to their
   * per-connection processes (in a container, stopping its sshd stops the container and all of them).
   * The embedded host has no process to signal: both end every connection.
   */
  restart(options?: { newHostKey?: boolean; signal?: FaultSignal }): Promise<void>;
  /**
   * Makes the host stop answering on its open connections without closing them (a host that
   * vanished from the network), until `resume()`.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** PIDs of processes on the host whose command line contains `pattern` (pgrep -f). */
  processes(pattern: string): Promise<number[]>;
  /** What the server logged so far (sshd's stderr, the embedded host's events). */
  logs(): string;
  /** Every secret this target handed out, for leak checks. */
  secrets(): string[];
}

/** What a test may need of an SSH host beyond connecting and running commands. */
export interface SshHostCapabilities {
  /** `restart()`, with a new host key too. */
  restart: boolean;
  /** `pause()`/`resume()`. */
  pause: boolean;
  /** `logs()` holds the server's log (a host the harness did not start has none to show). */
  logs: boolean;
  /**
   * Signal requests reach remote commands. OpenSSH refuses them for root sessions (no privilege
   * separation after a root login: "session signalling requires privilege separation"), which is
   * how the process tier logs in as root without the test users.
   */
  signals: boolean;
  /** Interactive shells on a pseudo-terminal (`pty-req` + `shell` requests, `window-change`). */
  pty: boolean;
}

export type SshCapability = keyof SshHostCapabilities;

export interface SshHostProvider extends TargetProvider<SshHostTarget, SshCapability> {
  readonly kind: 'ssh-host';
  readonly capabilities: SshHostCapabilities;
}
