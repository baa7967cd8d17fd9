/**
 * Composes named steps into one function, as hono's compose.ts and Envoy's HTTP filter chain do:
 * each step receives the context and `next`, and either returns a result itself (stopping the chain)
 * or awaits `next()` and may act on the way back (commit a reservation, write an audit row).
 *
 * Calling `next()` twice from one step would forward a call twice, so it is an error, as in hono.
 */
export type Next<R> = () => Promise<R>;

export interface Step<C, R> {
  /** Shown in errors and in the order listing, e.g. 'limits'. */
  readonly name: string;
  run(ctx: C, next: Next<R>): Promise<R>;
}

export class PipelineError extends Error {
  override readonly name = 'PipelineError';
}

export function compose<C, R>(steps: ReadonlyArray<Step<C, R>>): (ctx: C) => Promise<R> {
  return (ctx) => {
    let index = -1;
    const dispatch = (i: number): Promise<R> => {
      if (i <= index) {
        const owner = steps[i - 1]?.name ?? '?';
        return Promise.reject(new PipelineError(`step '${owner}' called next() more than once`));
      }
      index = i;
      const step = steps[i];
      if (step === undefined) {
        const last = steps[i - 1]?.name ?? '(none)';
        return Promise.reject(new PipelineError(`step '${last}' called next() but no step follows it`));
      }
      try {
        return Promise.resolve(step.run(ctx, () => dispatch(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
