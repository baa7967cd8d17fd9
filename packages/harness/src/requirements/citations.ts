/**
 * Reads what one `verifies(...)` call cites from its argument text, statically (the coverage test
 * reads test sources, so that a skipped test still counts): the quoted ids, and the era of the
 * `{ era: '...' }` form. The era's date is not mistaken for an id.
 */
export interface Citation {
  ids: string[];
  era?: string;
}

export function readCitation(args: string): Citation {
  const options = /\{([^}]*)\}/.exec(args);
  const ids = [...args.replace(/\{[^}]*\}/g, '').matchAll(/'([a-z0-9.-]+)'/g)].map((m) => m[1] ?? '');
  const era = options === null ? undefined : /era:\s*'([^']*)'/.exec(options[1] ?? '')?.[1];
  return era === undefined ? { ids } : { ids, era };
}
