/**
 * The StateStore a gateway's config asks for: in memory (one process, the default), or Redis when
 * `counters.redis` is set (several replicas). The Redis store reports its state and failures to the
 * metrics, and is connected before the gateway serves (without failing the start when Redis is not
 * there yet: limited calls are then denied until it is).
 */
import type { Logger } from 'pino';
import type { DeploymentConfig } from '../deployment.js';
import type { GatewayMetrics } from '../metrics.js';
import { MemoryStateStore } from './memory-store.js';
import { RedisStateStore } from './redis-store.js';
import type { StateStore } from './store.js';

export interface OpenStoreOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  /** A session record lives as long as an idle session. */
  sessionTtlMs?: number;
}

export async function openStateStore(
  config: DeploymentConfig,
  options: OpenStoreOptions,
): Promise<StateStore> {
  const counters = config.counters;
  if (counters === undefined) return new MemoryStateStore();
  const { metrics, logger } = options;
  metrics.storeUp.set(0);
  const store = new RedisStateStore({
    url: counters.redis,
    timeoutMs: counters.timeoutMs,
    keyPrefix: counters.keyPrefix,
    logger,
    onState: (up) => metrics.storeUp.set(up ? 1 : 0),
    counters: { onFailure: (operation) => metrics.storeFailures.inc({ operation }) },
    ...(options.sessionTtlMs === undefined ? {} : { sessionTtlMs: options.sessionTtlMs }),
  });
  await store.start();
  return store;
}
