/**
 * Providers of the replicas topology, per tier (testing/tiers.ts): the process tier (gateway
 * processes, redis-server, bastion-mqtt) and the container tier (the images and the load balancer of
 * the compose file, started through the Docker API).
 */
import type { TargetProvider } from '../../testing/tiers.js';
import { replicaContainerAvailability, startContainerReplicas } from './container.js';
import { replicaProcessAvailability, startProcessReplicas } from './process.js';
import type { ReplicaTopology, ReplicaTopologyOptions } from './types.js';

export * from './types.js';

export function replicaProviders(
  options: ReplicaTopologyOptions = {},
): ReadonlyArray<TargetProvider<ReplicaTopology>> {
  return [
    {
      kind: 'gateway replicas',
      tier: 'process',
      availability: replicaProcessAvailability,
      start: () => startProcessReplicas(options),
    },
    {
      kind: 'gateway replicas',
      tier: 'container',
      availability: replicaContainerAvailability,
      start: () => startContainerReplicas(options),
    },
  ];
}
