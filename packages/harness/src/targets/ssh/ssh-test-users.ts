/**
 * Who the process tier's sshd logs in as: the system users of scripts/setup-ssh-test-users.sh when
 * they exist (as root), root itself with a key when they do not, or the invoking user; and whether
 * the tier is available at all.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Availability } from '../../testing/tiers.js';
import { findBinary } from '../process.js';

export const DEFAULT_SSH_USERS_FILE = '/var/lib/bastion-test/ssh-users.json';

export interface SshTestUsers {
  passwordUser: string;
  password: string;
  keyUser: string;
}

function usersFile(env: NodeJS.ProcessEnv): string {
  return env.BASTION_SSH_USERS_FILE ?? DEFAULT_SSH_USERS_FILE;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function readUsers(env: NodeJS.ProcessEnv): SshTestUsers | string {
  const file = usersFile(env);
  let parsed: Partial<SshTestUsers>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SshTestUsers>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `running as root, but the test users are not set up (${file} is missing): run packages/harness/scripts/setup-ssh-test-users.sh`
      : `cannot read ${file}: ${(err as Error).message.split('\n')[0]}`;
  }
  if (!parsed.passwordUser || !parsed.password || !parsed.keyUser)
    return `${file} lacks passwordUser, password or keyUser`;
  for (const name of [parsed.passwordUser, parsed.keyUser]) {
    if (!userExists(name)) {
      return `system user ${name} (named in ${file}) does not exist: run packages/harness/scripts/setup-ssh-test-users.sh`;
    }
  }
  return parsed as SshTestUsers;
}

/** Why the SSH test users cannot be used (as root), or undefined when they can. */
export function sshTestUsersProblem(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const users = readUsers(env);
  return typeof users === 'string' ? users : undefined;
}

/** Why a test that needs a password login cannot run on this target, naming the one command that fixes it. */
export const PASSWORD_LOGIN_SKIP =
  'password login needs the SSH test users: run packages/harness/scripts/setup-ssh-test-users.sh as root';

function processTierRequired(env: NodeJS.ProcessEnv): boolean {
  return (env.BASTION_REQUIRE_TIERS ?? '').split(',').some((t) => t.trim() === 'process');
}

export function sshdAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  if (findBinary('sshd', env) === undefined) {
    return {
      available: false,
      reason: 'no sshd binary on PATH, /usr/sbin or /sbin (Debian: apt-get install openssh-server)',
    };
  }
  if (findBinary('ssh-keygen', env) === undefined) {
    return { available: false, reason: 'no ssh-keygen on PATH (Debian: apt-get install openssh-client)' };
  }
  if (isRoot() && processTierRequired(env)) {
    // A required tier runs whole: without the users its password tests would only skip.
    const users = readUsers(env);
    if (typeof users === 'string') return { available: false, reason: users };
  }
  return { available: true };
}
