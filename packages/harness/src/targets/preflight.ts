/**
 * The container tier's one-time check at the start of a run (test/global-setup.ts): does the Docker
 * engine answer, and is every image there, pulled (or, for the sshd image, built) once up front so
 * that no test pays for it and a tier that cannot run says why before any test starts.
 */
import { GenericContainer, getContainerRuntimeClient, ImageName } from 'testcontainers';
import type { BastionRunState } from '../testing/run-state.js';
import type { Availability } from '../testing/tiers.js';
import { dockerAvailability, imageFor } from './container.js';
import { parseMosquittoVersion } from './mqtt/mosquitto.js';
import { containerLabels } from './run-scope.js';
import { SSHD_BUILT_IMAGE, SSHD_DOCKERFILE_DIR } from './ssh/container.js';

/** Image variables of the container tier and their public defaults. */
export const CONTAINER_IMAGES: ReadonlyArray<{ variable: string; fallback: string }> = [
  { variable: 'BASTION_MOSQUITTO_IMAGE', fallback: 'eclipse-mosquitto:2' },
  { variable: 'BASTION_REDIS_IMAGE', fallback: 'redis:7' },
];

export async function containerTierPreflight(env: NodeJS.ProcessEnv = process.env): Promise<Availability> {
  const socket = dockerAvailability(env);
  if (!socket.available) return socket;
  let client: Awaited<ReturnType<typeof getContainerRuntimeClient>>;
  try {
    client = await getContainerRuntimeClient();
  } catch (err) {
    return { available: false, reason: `the Docker engine does not answer: ${(err as Error).message}` };
  }
  const images = CONTAINER_IMAGES.map(({ variable, fallback }) => ({
    variable,
    image: imageFor(variable, fallback, env),
  }));
  const sshd = env.BASTION_SSHD_IMAGE;
  if (sshd !== undefined && sshd !== '') images.push({ variable: 'BASTION_SSHD_IMAGE', image: sshd });
  for (const { variable, image } of images) {
    const name = ImageName.fromString(image);
    if (await client.image.exists(name)) continue;
    try {
      await client.image.pull(name);
    } catch (err) {
      return {
        available: false,
        reason: `image ${image} (${variable}) is not here and cannot be pulled: ${(err as Error).message}`,
      };
    }
  }
  if (sshd === undefined || sshd === '') {
    try {
      await GenericContainer.fromDockerfile(SSHD_DOCKERFILE_DIR).build(SSHD_BUILT_IMAGE, {
        deleteOnExit: false,
      });
    } catch (err) {
      return {
        available: false,
        reason: `the sshd image cannot be built from docker/sshd/Dockerfile (set BASTION_SSHD_IMAGE): ${(err as Error).message}`,
      };
    }
  }
  return { available: true };
}

/**
 * The Mosquitto version of BASTION_MOSQUITTO_IMAGE, from `mosquitto -h` in a throwaway container
 * (labelled with the run, so the sweep removes it if this is interrupted). Run once per run, after
 * the check above found the image.
 */
export async function containerMosquitto(
  env: NodeJS.ProcessEnv = process.env,
): Promise<NonNullable<BastionRunState['containerMosquitto']>> {
  const image = imageFor('BASTION_MOSQUITTO_IMAGE', 'eclipse-mosquitto:2', env);
  try {
    const client = await getContainerRuntimeClient();
    // A TTY, so that the logs come back as plain text rather than Docker's multiplexed frames.
    const container = await client.container.dockerode.createContainer({
      Image: image,
      Cmd: ['/usr/sbin/mosquitto', '-h'],
      Tty: true,
      Labels: containerLabels(),
    });
    try {
      await container.start();
      await container.wait();
      const output = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
      const version = parseMosquittoVersion(output);
      if (version === undefined) {
        return { image, error: `no version in its mosquitto -h: ${output.slice(0, 200).trim()}` };
      }
      return { image, version };
    } finally {
      await container.remove({ force: true });
    }
  } catch (err) {
    return { image, error: (err as Error).message };
  }
}
