/**
 * What a tool pin covers: everything about a tool that the model or the user reads and relies on:
 * its name, title, description, input and output schemas and annotations. A change to any of them
 * (a new sentence in a description is the classic "rug pull") makes the definition a new one. Other
 * fields (`_meta`, `icons`, `execution`) are left out: they change with SDK versions without changing
 * what the tool does.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { createTwoFilesPatch } from 'diff';

export const PINNED_FIELDS = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

export type PinnedDefinition = Partial<Record<Exclude<(typeof PINNED_FIELDS)[number], 'name'>, unknown>> & {
  name: string;
};

export function pinnedPart(tool: { name: string } & Record<string, unknown>): PinnedDefinition {
  const part: PinnedDefinition = { name: tool.name };
  for (const field of PINNED_FIELDS)
    if (field !== 'name' && tool[field] !== undefined) part[field] = tool[field];
  return part;
}

/** SHA-256 of the pinned part in its canonical form (RFC 8785): key order does not make a change. */
export function definitionHash(definition: PinnedDefinition): string {
  return createHash('sha256')
    .update(canonicalize(definition) ?? '', 'utf8')
    .digest('hex');
}

/** The same hash without the name: equal for a tool that was only renamed. */
export function shapeHash(definition: PinnedDefinition): string {
  const { name: _name, ...rest } = definition;
  return definitionHash({ ...rest, name: '' });
}

/** A unified diff of two definitions, each laid out as sorted, indented JSON. */
export function definitionDiff(pinned: PinnedDefinition | undefined, proposed: PinnedDefinition): string {
  const text = (d: PinnedDefinition | undefined) =>
    d === undefined ? '' : `${JSON.stringify(JSON.parse(canonicalize(d) ?? '{}'), null, 2)}\n`;
  return createTwoFilesPatch('pinned', 'upstream now', text(pinned), text(proposed), undefined, undefined, {
    context: 3,
  });
}
