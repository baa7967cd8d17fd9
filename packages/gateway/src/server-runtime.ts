/**
 * One configured upstream server at run time: its policies (the server's own and the grants'
 * overrides), the upstream's tool list as last seen, and whether it may be served. A server whose
 * policy names an `args.*` path its tool does not have is refused until the policy is fixed.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { GrantConfig, PolicyRef, ServerConfig } from './config.js';
import type { GatewayMetrics } from './metrics.js';
import { checkArgPaths, unknownToolNames } from './policy/args-check.js';
import type { CompiledPolicy } from './policy/compile.js';
import { formatProblems, PolicyLoadError, type Problem } from './policy/problems.js';
import {
  FilePolicySource,
  InlinePolicySource,
  type PolicySource,
  type ReloadEvent,
} from './policy/source.js';

export type ServerState = 'unchecked' | 'ok' | 'refused';

export interface PolicyEvent {
  server: string;
  event: ReloadEvent;
}

export class ServerRuntime {
  private serverPolicy: PolicySource | undefined;
  private readonly grantPolicies = new Map<string, PolicySource>();
  private catalog: Map<string, Tool> | undefined;
  private problems: Problem[] = [];
  private readonly listeners = new Set<(event: PolicyEvent) => void>();
  private readonly sessionListeners = new Set<() => void>();

  constructor(
    readonly config: ServerConfig,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Loads every policy of this server; throws one PolicyLoadError listing every problem in every file. */
  async load(grants: Iterable<GrantConfig>): Promise<void> {
    const problems: Problem[] = [];
    const open = async (ref: PolicyRef | undefined): Promise<PolicySource | undefined> => {
      if (ref === undefined) return undefined;
      if (ref.kind === 'inline') return new InlinePolicySource(ref.policy, ref.pointer);
      const source = new FilePolicySource(ref.path, {
        check: (policy) => this.check(policy),
        onReload: (event) => this.reloaded(event),
      });
      try {
        await source.load();
      } catch (err) {
        if (!(err instanceof PolicyLoadError)) throw err;
        for (const p of err.problems)
          problems.push({ pointer: `${ref.path}#${p.pointer}`, message: p.message });
      }
      return source;
    };
    this.serverPolicy = await open(this.config.policy);
    for (const grant of grants) {
      const ref = grant.policies.get(this.name);
      const source = await open(ref);
      if (source !== undefined) this.grantPolicies.set(grant.label, source);
    }
    if (problems.length > 0) throw new PolicyLoadError(problems, `server '${this.name}' policy`);
  }

  /** Starts watching policy files for changes. */
  watch(): void {
    for (const source of this.sources()) if (source instanceof FilePolicySource) source.watch();
  }

  /** Reads every policy file again now (as a file change would). */
  async reload(): Promise<ReloadEvent[]> {
    const events: ReloadEvent[] = [];
    for (const source of this.sources())
      if (source instanceof FilePolicySource) events.push(await source.reload());
    return events;
  }

  /** The policy in force for `grant` on this server: the grant's override, else the server's own. */
  policyFor(grant: string): CompiledPolicy | undefined {
    return (this.grantPolicies.get(grant) ?? this.serverPolicy)?.current();
  }

  get state(): ServerState {
    if (this.problems.length > 0) return 'refused';
    return this.catalog === undefined ? 'unchecked' : 'ok';
  }

  /** Why the server is refused, if it is. */
  refusal(): string | undefined {
    if (this.problems.length === 0) return undefined;
    return `server '${this.name}' is not served: its policy does not match the upstream's tools:\n${formatProblems(this.problems)}`;
  }

  refusalProblems(): ReadonlyArray<Problem> {
    return this.problems;
  }

  /**
   * Records the upstream's tools and checks every policy's `args.*` paths against them. Returns the
   * problems (also kept: they refuse the server).
   */
  updateCatalog(tools: ReadonlyArray<Tool>): Problem[] {
    const before = this.catalog;
    this.catalog = new Map(tools.map((t) => [t.name, t]));
    const problems: Problem[] = [];
    for (const source of this.sources()) {
      const policy = source.current();
      if (policy === undefined) continue;
      for (const p of checkArgPaths(policy, this.catalog)) {
        problems.push({ pointer: `${source.label}#${p.pointer}`, message: p.message });
      }
      if (before === undefined) {
        const unknown = unknownToolNames(policy, this.catalog);
        if (unknown.length > 0) {
          this.logger.warn(
            { server: this.name, policy: source.label, tools: unknown },
            'policy names tools the upstream does not offer',
          );
        }
      }
    }
    const wasRefused = this.problems.length > 0;
    this.problems = problems;
    if (problems.length > 0 && !wasRefused) {
      this.logger.error(
        { server: this.name, problems },
        'policy does not match the upstream; server refused',
      );
    }
    return problems;
  }

  onPolicyEvent(listener: (event: PolicyEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sessions of this server subscribe to hear that the policy in force changed. */
  onPolicyApplied(listener: () => void): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  close(): void {
    for (const source of this.sources()) source.close();
    this.listeners.clear();
    this.sessionListeners.clear();
  }

  private sources(): PolicySource[] {
    return [...(this.serverPolicy ? [this.serverPolicy] : []), ...this.grantPolicies.values()];
  }

  /** Checks a candidate policy against the tools the upstream offers, once they are known. */
  private check(policy: CompiledPolicy): Problem[] {
    return this.catalog === undefined ? [] : checkArgPaths(policy, this.catalog);
  }

  private reloaded(event: ReloadEvent): void {
    if (event.kind === 'applied') {
      this.logger.info(
        { server: this.name, source: event.source, version: event.version },
        'policy reloaded',
      );
      this.metrics.policyReloads.inc({ server: this.name, result: 'applied' });
      // A reload that fixes the paths lifts a refusal.
      if (this.catalog !== undefined) this.updateCatalog([...this.catalog.values()]);
      for (const listener of this.sessionListeners) listener();
    } else if (event.kind === 'rejected') {
      this.logger.error(
        { server: this.name, source: event.source, problems: event.problems },
        'policy reload rejected; the previous policy stays in force',
      );
      this.metrics.policyReloads.inc({ server: this.name, result: 'rejected' });
    }
    for (const listener of this.listeners) listener({ server: this.name, event });
  }
}
