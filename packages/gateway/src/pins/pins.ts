/**
 * Tool pinning (issue 12): the gateway pins every upstream tool's definition (pins/definition.ts)
 * the first time it sees a server's tools, or takes the pins from the lock file. From then on a tool
 * whose definition differs from its pin, or a tool with no pin at all (a rename is one: pinning a
 * hash per name would miss it), is withheld: left out of `tools/list` and its calls denied with
 * `TOOL_CHANGED`, until a person accepts it (in the console, with the diff, or with
 * `bastion-gateway pin --accept`).
 *
 * Pins live in the shared store (table `pins`, one set per server), so every replica withholds and
 * accepts the same; the lock file keeps them across restarts of a gateway whose store does not.
 * This is the core's ToolDefinitionGate: it reviews each new tool list once, and what it returns
 * answers from the pins as they are now, so an accepted tool comes back in catalogs already made.
 */
import type { Logger } from 'pino';
import type { ToolDefinition, ToolDefinitionGate } from '../core/catalog.js';
import type { RecordTable, StateStore } from '../store/store.js';
import { definitionHash, type PinnedDefinition, pinnedPart, shapeHash } from './definition.js';
import { LockFileError, readLockFile, watchLockFile, writeLockFile } from './lock-file.js';
import { type Pin, type PinSet, type Proposal, pinSetSchema, proposalSchema } from './records.js';

export interface ToolPinsOptions {
  store: StateStore;
  servers: ReadonlyArray<string>;
  logger: Logger;
  /** The lock file, when the config names one. */
  file?: string;
  /** Another process may change pins (a shared store): how often to read them again. */
  pollMs?: number;
  /** The tools an agent may see changed (an acceptance): tell the agents of `server`. */
  toolsChanged(server: string): void;
  /** A pin changed by someone: the audit row. */
  pinned(event: PinEvent): void;
}

export interface PinEvent {
  server: string;
  tool: string;
  kind: 'first sight' | 'accepted' | 'from lock file';
  by: string;
  sha256: string;
}

const proposalKey = (server: string, tool: string) => JSON.stringify([server, tool]);

export class ToolPins implements ToolDefinitionGate {
  private readonly sets: RecordTable<unknown>;
  private readonly proposals: RecordTable<unknown>;
  /** The pins as last read: what the withheld maps answer from (they are read synchronously). */
  private readonly cache = new Map<string, PinSet>();
  private timer: NodeJS.Timeout | undefined;
  private watcher: { close(): void } | undefined;

  constructor(private readonly o: ToolPinsOptions) {
    this.sets = o.store.table('pins');
    this.proposals = o.store.table('pin-proposals');
  }

  /** Reads the pins (and the lock file's newer ones), and keeps them current from then on. */
  async start(): Promise<void> {
    await this.adoptLockFile('from lock file');
    for (const server of this.o.servers) await this.refresh(server);
    if (this.o.file !== undefined)
      this.watcher = watchLockFile(this.o.file, () => {
        this.adoptLockFile('from lock file').catch((err: unknown) =>
          this.o.logger.error({ err }, 'could not read the pins file again'),
        );
      });
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 2_000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.watcher?.close();
  }

  /** The core's review of a new tool list: first sight pins it all; otherwise unpinned tools wait. */
  async review(server: string, tools: ReadonlyArray<ToolDefinition>): Promise<ReadonlyMap<string, string>> {
    const offered = new Map(tools.map((t) => [t.name, pinnedPart(t)]));
    const hashes = new Map([...offered].map(([name, d]) => [name, definitionHash(d)]));
    let set = await this.refresh(server);
    if (set === undefined) {
      set = { revision: 1, tools: {} };
      const at = new Date().toISOString();
      for (const [name, definition] of offered)
        set.tools[name] = pinOf(definition, hashes.get(name) ?? '', at, '(first sight)');
      await this.save(server, set);
      // One row for the whole first list: what was pinned, by nobody in particular.
      const names = [...hashes.keys()].sort();
      this.o.pinned({ server, tool: names.join(', '), kind: 'first sight', by: '(first sight)', sha256: '' });
    } else {
      await this.propose(server, set, offered, hashes);
    }
    return new LiveWithheld(hashes, () => this.cache.get(server), server);
  }

  /** Definitions waiting for a decision, for the console and `bastion-gateway pin`. */
  async pending(): Promise<Array<Proposal & { pinned?: Pin }>> {
    const out: Array<Proposal & { pinned?: Pin }> = [];
    for (const key of await this.proposals.keys()) {
      const parsed = proposalSchema.safeParse(await this.proposals.get(key));
      if (!parsed.success) continue;
      const pinned = this.cache.get(parsed.data.server)?.tools[parsed.data.tool];
      out.push(pinned === undefined ? parsed.data : { ...parsed.data, pinned });
    }
    return out.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen));
  }

  /** The pins of every server, as they stand. */
  async all(): Promise<Record<string, PinSet>> {
    const out: Record<string, PinSet> = {};
    for (const server of this.o.servers) {
      const set = await this.refresh(server);
      if (set !== undefined) out[server] = set;
    }
    return out;
  }

  /** Accepts the definition the upstream offers now (as last reviewed) as the tool's pin. */
  async accept(server: string, tool: string, by: string): Promise<Pin | undefined> {
    const parsed = proposalSchema.safeParse(await this.proposals.take(proposalKey(server, tool)));
    if (!parsed.success) return undefined;
    const proposal = parsed.data;
    const set = (await this.refresh(server)) ?? { revision: 0, tools: {} };
    const pin = pinOf(proposal.definition, proposal.sha256, new Date().toISOString(), by);
    await this.save(server, { revision: set.revision + 1, tools: { ...set.tools, [tool]: pin } });
    this.o.pinned({ server, tool, kind: 'accepted', by, sha256: pin.sha256 });
    this.o.toolsChanged(server);
    return pin;
  }

  /** Records what the list offers that the pins do not cover, and forgets what they cover again. */
  private async propose(
    server: string,
    set: PinSet,
    offered: ReadonlyMap<string, PinnedDefinition>,
    hashes: ReadonlyMap<string, string>,
  ): Promise<void> {
    const gone = Object.entries(set.tools).filter(([name]) => !offered.has(name));
    for (const [name, definition] of offered) {
      const hash = hashes.get(name) ?? '';
      const pin = set.tools[name];
      const key = proposalKey(server, name);
      if (pin?.sha256 === hash) {
        await this.proposals.delete(key);
        continue;
      }
      const known = proposalSchema.safeParse(await this.proposals.get(key));
      if (known.success && known.data.sha256 === hash) continue;
      const shape = shapeHash(definition);
      const renamedFrom = gone.find(([, p]) => shapeHash(p.definition as PinnedDefinition) === shape)?.[0];
      const proposal: Proposal = {
        server,
        tool: name,
        kind: pin === undefined ? 'new' : 'changed',
        sha256: hash,
        definition,
        firstSeen: new Date().toISOString(),
        ...(pin === undefined && renamedFrom !== undefined ? { renamedFrom } : {}),
      };
      await this.proposals.put(key, proposal);
      this.o.logger.warn(
        { server, tool: name, kind: proposal.kind },
        'tool definition withheld until accepted (tool pinning)',
      );
    }
  }

  private async refresh(server: string): Promise<PinSet | undefined> {
    const parsed = pinSetSchema.safeParse(await this.sets.get(server));
    if (!parsed.success) {
      this.cache.delete(server);
      return undefined;
    }
    this.cache.set(server, parsed.data);
    return parsed.data;
  }

  private async save(server: string, set: PinSet): Promise<void> {
    await this.sets.put(server, set);
    this.cache.set(server, set);
    if (this.o.file !== undefined) {
      try {
        await writeLockFile(this.o.file, await this.all());
      } catch (err) {
        this.o.logger.error({ err, file: this.o.file }, 'could not write the pins file');
      }
    }
  }

  /** Takes the lock file's pins for every server where they are newer than the store's. */
  private async adoptLockFile(kind: PinEvent['kind']): Promise<void> {
    if (this.o.file === undefined) return;
    let file: Awaited<ReturnType<typeof readLockFile>>;
    try {
      file = await readLockFile(this.o.file);
    } catch (err) {
      if (err instanceof LockFileError) this.o.logger.error({ file: this.o.file }, err.message);
      else throw err;
      return;
    }
    for (const [server, set] of Object.entries(file?.servers ?? {})) {
      if (!this.o.servers.includes(server)) continue;
      const current = await this.refresh(server);
      if (current !== undefined && current.revision >= set.revision) continue;
      await this.sets.put(server, set);
      this.cache.set(server, set);
      for (const [tool, pin] of Object.entries(set.tools)) {
        if (current?.tools[tool]?.sha256 === pin.sha256) continue;
        await this.proposals.delete(proposalKey(server, tool));
        this.o.pinned({ server, tool, kind, by: pin.acceptedBy, sha256: pin.sha256 });
      }
      if (current !== undefined) this.o.toolsChanged(server);
    }
  }

  /** Another replica may have accepted a pin: read the sets again, and tell agents of a change. */
  private async poll(): Promise<void> {
    for (const server of this.o.servers) {
      const before = this.cache.get(server)?.revision;
      try {
        const after = (await this.refresh(server))?.revision;
        if (before !== undefined && after !== undefined && after !== before) this.o.toolsChanged(server);
      } catch (err) {
        this.o.logger.warn({ err, server }, 'could not read the tool pins');
      }
    }
  }
}

function pinOf(definition: PinnedDefinition, sha256: string, at: string, by: string): Pin {
  return { sha256, definition, acceptedAt: at, acceptedBy: by };
}

/**
 * The withheld tools of one reviewed list, answering from the pins as they are at each question, so
 * that an acceptance (here or in another replica) frees the tool in every catalog at once.
 */
class LiveWithheld implements ReadonlyMap<string, string> {
  constructor(
    private readonly hashes: ReadonlyMap<string, string>,
    private readonly pins: () => PinSet | undefined,
    private readonly server: string,
  ) {}

  get(name: string): string | undefined {
    const hash = this.hashes.get(name);
    if (hash === undefined) return undefined;
    const pin = this.pins()?.tools[name];
    if (pin?.sha256 === hash) return undefined;
    return pin === undefined
      ? `tool '${name}' of server '${this.server}' is new since its tools were pinned, and is withheld until someone accepts it (gateway console, or bastion-gateway pin --accept)`
      : `the definition of tool '${name}' of server '${this.server}' changed since it was pinned, and is withheld until someone accepts the change (gateway console, or bastion-gateway pin --accept)`;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  private snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    for (const name of this.hashes.keys()) {
      const why = this.get(name);
      if (why !== undefined) out.set(name, why);
    }
    return out;
  }

  get size(): number {
    return this.snapshot().size;
  }
  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (const [k, v] of this.snapshot()) fn(v, k, this);
  }
  entries(): MapIterator<[string, string]> {
    return this.snapshot().entries();
  }
  keys(): MapIterator<string> {
    return this.snapshot().keys();
  }
  values(): MapIterator<string> {
    return this.snapshot().values();
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}
