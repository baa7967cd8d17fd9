import { describe, expect, it } from 'vitest';
import { checkArgPaths, type ToolSchemaInfo, unknownToolNames } from '../src/policy/args-check.js';
import { parsePolicy } from '../src/policy/load.js';

function policyWith(conditions: Array<{ path: string }>) {
  const result = parsePolicy({
    version: '1',
    default: 'deny',
    tools: { publish: { deny_if: conditions.map((c) => ({ ...c, op: 'exists' })) }, ghost: {} },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

const publish: ToolSchemaInfo = {
  name: 'publish',
  inputSchema: {
    type: 'object',
    properties: {
      topic: { type: 'string' },
      options: { type: 'object', properties: { qos: { type: 'number' } }, additionalProperties: false },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      meta: { type: 'object' },
      items: { type: 'array', items: { $ref: '#/$defs/item' } },
      either: { anyOf: [{ type: 'string' }, { type: 'object', properties: { x: { type: 'number' } } }] },
    },
    $defs: { item: { type: 'object', properties: { id: { type: 'string' } } } },
  },
};
const tools = new Map([['publish', publish]]);

describe('args.* paths against the upstream inputSchema', () => {
  it('accepts paths the schema declares, through nesting, maps, arrays, refs and unions', () => {
    const policy = policyWith([
      { path: 'args.topic' },
      { path: 'args.options.qos' },
      { path: 'args.headers.anything' },
      { path: 'args.meta.free.form' },
      { path: 'args.items.0.id' },
      { path: 'args.either.x' },
    ]);
    expect(checkArgPaths(policy, tools)).toEqual([]);
  });

  it('names the tool and the path of each misspelling', () => {
    const policy = policyWith([
      { path: 'args.topik' },
      { path: 'args.options.qoss' },
      { path: 'args.items.0.idd' },
    ]);
    expect(checkArgPaths(policy, tools)).toEqual([
      {
        pointer: '/tools/publish/deny_if/0/path',
        message: "tool 'publish' has no argument 'args.topik' in its inputSchema",
      },
      {
        pointer: '/tools/publish/deny_if/1/path',
        message: "tool 'publish' has no argument 'args.options.qoss' in its inputSchema",
      },
      {
        pointer: '/tools/publish/deny_if/2/path',
        message: "tool 'publish' has no argument 'args.items.0.idd' in its inputSchema",
      },
    ]);
  });

  it('lists policy tools the upstream does not offer', () => {
    expect(unknownToolNames(policyWith([]), tools)).toEqual(['ghost']);
  });
});
