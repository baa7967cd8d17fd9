/**
 * The MCP methods the gateway forwards, and what it does with each. Policy acts on exactly two:
 * `tools/call` runs the call pipeline, `tools/list` is filtered. A few are answered or remembered by
 * the gateway itself; every other known method passes through untouched. Anything not in this table
 * (a misspelt `tools/Call`, a vendor method, the deprecated tasks) is "Method not found" and never
 * reaches the upstream: an upstream that matched names loosely could otherwise be reached around the
 * policy. A method is also not found when the upstream's capabilities do not cover it, as the SDK's
 * own servers answer.
 */
export type Handling =
  /** The call pipeline. */
  | 'call'
  /** Forwarded, then filtered by the policy (and pinning). */
  | 'list-tools'
  /** Answered by the gateway (2025-era ping: the gateway itself is alive and the session known). */
  | 'ping'
  /** Forwarded, and remembered so that it is replayed on a new upstream session. */
  | 'set-level'
  | 'subscribe'
  | 'unsubscribe'
  /** 2026 era. */
  | 'discover'
  | 'listen'
  | 'pass';

type Capability = 'tools' | 'resources' | 'prompts' | 'completions' | 'logging';

interface MethodSpec {
  handling: Handling;
  capability?: Capability;
  /** A flag inside the capability that must be set (`resources.subscribe`). */
  flag?: string;
  /** Which era defines the method (both when absent). */
  era?: 'legacy' | 'modern';
  /** 2026-07-28 results that carry cache hints (`ttlMs`, `cacheScope`). */
  cacheable?: boolean;
}

export const METHODS: Readonly<Record<string, MethodSpec>> = {
  'tools/call': { handling: 'call', capability: 'tools' },
  'tools/list': { handling: 'list-tools', capability: 'tools', cacheable: true },
  'resources/list': { handling: 'pass', capability: 'resources', cacheable: true },
  'resources/templates/list': { handling: 'pass', capability: 'resources', cacheable: true },
  'resources/read': { handling: 'pass', capability: 'resources', cacheable: true },
  'resources/subscribe': { handling: 'subscribe', capability: 'resources', flag: 'subscribe', era: 'legacy' },
  'resources/unsubscribe': {
    handling: 'unsubscribe',
    capability: 'resources',
    flag: 'subscribe',
    era: 'legacy',
  },
  'prompts/list': { handling: 'pass', capability: 'prompts', cacheable: true },
  'prompts/get': { handling: 'pass', capability: 'prompts' },
  'completion/complete': { handling: 'pass', capability: 'completions' },
  'logging/setLevel': { handling: 'set-level', capability: 'logging', era: 'legacy' },
  ping: { handling: 'ping', era: 'legacy' },
  'server/discover': { handling: 'discover', era: 'modern', cacheable: true },
  'subscriptions/listen': { handling: 'listen', era: 'modern' },
};

/** Notifications an agent may send upstream (others are dropped). */
export const AGENT_NOTIFICATIONS: ReadonlySet<string> = new Set([
  'notifications/progress',
  'notifications/roots/list_changed',
]);

/** The handling of `method` for an upstream with `capabilities`, or undefined: Method not found. */
export function handlingOf(
  method: string,
  capabilities: Readonly<Record<string, unknown>> | undefined,
  era: 'legacy' | 'modern',
): MethodSpec | undefined {
  const spec = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  if (spec === undefined) return undefined;
  if (spec.era !== undefined && spec.era !== era) return undefined;
  if (spec.capability === undefined) return spec;
  const capability = capabilities?.[spec.capability];
  if (capability === null || typeof capability !== 'object') return undefined;
  if (spec.flag !== undefined && (capability as Record<string, unknown>)[spec.flag] !== true)
    return undefined;
  return spec;
}
