/**
 * Long-polling reads (readJobOutput, readShell with `waitMs`): a caller waits until a condition
 * holds, its time is up, or its request is cancelled; producers call `wake()` when something
 * changed. Every timer and listener is released when the wait ends.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  wake(): void {
    for (const check of [...this.waiting]) check();
  }

  /** Resolves once `ready()` is true, after `ms`, or when `signal` aborts, whichever comes first. */
  until(ready: () => boolean, ms: number, signal?: AbortSignal): Promise<void> {
    if (ready() || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
