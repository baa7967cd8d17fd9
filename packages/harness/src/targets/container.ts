/**
 * What every `container`-tier target needs: to know whether a Docker engine is reachable, and the
 * image to run, configurable by environment variable so that a machine with no registry can point
 * at locally built images (scripts/prepare-containers.sh) while a user's machine pulls public ones.
 */
import { existsSync } from 'node:fs';
import type { Availability } from '../testing/tiers.js';

/** Cheap, synchronous: is a Docker socket there? (Starting a container then says if it answers.) */
export function dockerAvailability(env: NodeJS.ProcessEnv = process.env): Availability {
  const host = env.DOCKER_HOST;
  if (host !== undefined && host !== '') {
    if (host.startsWith('unix://') && !existsSync(host.slice('unix://'.length))) {
      return { available: false, reason: `DOCKER_HOST socket ${host} does not exist` };
    }
    return { available: true };
  }
  if (existsSync('/var/run/docker.sock')) return { available: true };
  return {
    available: false,
    reason: 'no Docker engine (set DOCKER_HOST, or run packages/harness/scripts/prepare-containers.sh)',
  };
}

/** The image for a kind of target: the variable if set, else the public default. */
export function imageFor(variable: string, publicDefault: string, env: NodeJS.ProcessEnv = process.env) {
  const value = env[variable];
  return value !== undefined && value !== '' ? value : publicDefault;
}
