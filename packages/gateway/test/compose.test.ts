import { describe, expect, it } from 'vitest';
import { compose, PipelineError, type Step } from '../src/pipeline/compose.js';

type Ctx = { trail: string[] };

const step = (name: string, body: Step<Ctx, string>['run']): Step<Ctx, string> => ({ name, run: body });

describe('compose', () => {
  it('runs steps in order and lets each act on the way back', async () => {
    const run = compose<Ctx, string>([
      step('a', async (ctx, next) => {
        ctx.trail.push('a>');
        const r = await next();
        ctx.trail.push('<a');
        return `${r}a`;
      }),
      step('b', async (ctx, next) => {
        ctx.trail.push('b>');
        const r = await next();
        ctx.trail.push('<b');
        return `${r}b`;
      }),
      step('end', async (ctx) => {
        ctx.trail.push('end');
        return 'x';
      }),
    ]);
    const ctx = { trail: [] };
    expect(await run(ctx)).toBe('xba');
    expect(ctx.trail).toEqual(['a>', 'b>', 'end', '<b', '<a']);
  });

  it('stops at a step that returns without calling next', async () => {
    const run = compose<Ctx, string>([
      step('deny', async () => 'denied'),
      step('never', async (ctx) => {
        ctx.trail.push('ran');
        return 'forwarded';
      }),
    ]);
    const ctx = { trail: [] };
    expect(await run(ctx)).toBe('denied');
    expect(ctx.trail).toEqual([]);
  });

  it('refuses a second next() from the same step', async () => {
    let forwarded = 0;
    const run = compose<Ctx, string>([
      step('twice', async (_ctx, next) => {
        await next();
        return next();
      }),
      step('forward', async () => {
        forwarded++;
        return 'ok';
      }),
    ]);
    await expect(run({ trail: [] })).rejects.toThrow(PipelineError);
    expect(forwarded).toBe(1);
  });

  it('reports a last step that calls next()', async () => {
    const run = compose<Ctx, string>([step('last', async (_ctx, next) => next())]);
    await expect(run({ trail: [] })).rejects.toThrow(/no step follows/);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const run = compose<Ctx, string>([
      {
        name: 'sync',
        run: () => {
          throw new Error('boom');
        },
      },
    ]);
    await expect(run({ trail: [] })).rejects.toThrow('boom');
  });
});
