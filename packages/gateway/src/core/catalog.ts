/**
 * The upstream's tool definitions, as the gateway knows them. Every tool list an upstream gives
 * passes `ToolCatalogs.accept`, the one place where definitions enter the gateway: the policy's
 * `args.*` paths are checked against them there, and a `ToolDefinitionGate` (tool pinning, a later
 * issue) may withhold a changed or new definition, which then is neither listed nor callable.
 *
 * Lists are interned per server by their text: the 2025-era sessions of one server nearly always see
 * the same list, and 50,000 sessions then share one catalog instead of holding 50,000 copies.
 */

export interface ToolDefinition {
  name: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  [key: string]: unknown;
}

/** Decides which tool definitions an agent may use; the default keeps them all. */
export interface ToolDefinitionGate {
  /** The names to withhold from `tools`, each with the reason a call is refused. */
  review(
    server: string,
    tools: ReadonlyArray<ToolDefinition>,
  ): ReadonlyMap<string, string> | Promise<ReadonlyMap<string, string>>;
}

export const OPEN_GATE: ToolDefinitionGate = { review: () => new Map() };

export class ToolCatalog {
  readonly byName: ReadonlyMap<string, ToolDefinition>;

  constructor(
    readonly tools: ReadonlyArray<ToolDefinition>,
    /** Withheld by the gate: name -> why. */
    readonly withheld: ReadonlyMap<string, string>,
  ) {
    this.byName = new Map(tools.map((t) => [t.name, t]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}

const INTERNED_PER_SERVER = 16;

export class ToolCatalogs {
  private readonly interned = new Map<string, ToolCatalog>();
  /** The latest list the server gave; sessions without a list of their own use it. */
  current: ToolCatalog | undefined;

  constructor(
    private readonly server: string,
    private readonly gate: ToolDefinitionGate,
    /** Checks the policies against a newly seen list (ServerRuntime.updateCatalog). */
    private readonly onNewList: (tools: ReadonlyArray<ToolDefinition>) => void,
  ) {}

  /** The catalog for a complete tool list an upstream just gave (`text` is its JSON, the intern key). */
  async accept(tools: ReadonlyArray<ToolDefinition>, text = JSON.stringify(tools)): Promise<ToolCatalog> {
    const known = this.interned.get(text);
    if (known !== undefined) {
      this.current = known;
      return known;
    }
    const withheld = await this.gate.review(this.server, tools);
    const catalog = new ToolCatalog(tools, withheld);
    if (this.interned.size >= INTERNED_PER_SERVER) {
      const oldest = this.interned.keys().next().value;
      if (oldest !== undefined) this.interned.delete(oldest);
    }
    this.interned.set(text, catalog);
    this.current = catalog;
    this.onNewList(tools);
    return catalog;
  }
}

/** Tools of a `tools/list` result, when it is one (objects with a string name). */
export function toolsOf(result: Record<string, unknown> | undefined): ToolDefinition[] | undefined {
  const tools = result?.tools;
  if (!Array.isArray(tools)) return undefined;
  return tools.filter(
    (t): t is ToolDefinition =>
      t !== null && typeof t === 'object' && typeof (t as ToolDefinition).name === 'string',
  );
}
