/**
 * Arguments for a call whose only purpose is to reach the policy and the upstream: the required
 * fields of the tool's input schema, each with the smallest value its schema accepts.
 */
type Schema = Record<string, unknown>;

function valueFor(schema: Schema | undefined, depth = 0): unknown {
  if (schema === undefined || depth > 6) return 'bastion-contract';
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('default' in schema) return schema.default;
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list) && list.length > 0) return valueFor(list[0] as Schema, depth + 1);
  }
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string | undefined];
  const type = types.find((t) => t !== 'null') ?? types[0];
  switch (type) {
    case 'string': {
      const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
      const base = 'bastion-contract';
      return base.length >= min ? base : base.padEnd(min, 'x');
    }
    case 'integer':
    case 'number': {
      if (typeof schema.minimum === 'number')
        return type === 'integer' ? Math.ceil(schema.minimum) : schema.minimum;
      if (typeof schema.exclusiveMinimum === 'number') return Math.floor(schema.exclusiveMinimum) + 1;
      if (typeof schema.maximum === 'number' && schema.maximum < 1) return Math.floor(schema.maximum);
      return 1;
    }
    case 'boolean':
      return false;
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      return Array.from({ length: min }, () => valueFor(schema.items as Schema | undefined, depth + 1));
    }
    case 'object':
      return minimalArguments(schema, depth + 1);
    default:
      return 'bastion-contract';
  }
}

export function minimalArguments(schema: Schema | undefined, depth = 0): Record<string, unknown> {
  if (schema === undefined) return {};
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const args: Record<string, unknown> = {};
  for (const name of required) args[name] = valueFor(properties[name], depth);
  return args;
}
