/**
 * A last resort for the processes the suites start (servers, gateways, the conformance CLI): if the
 * test process exits before their owners' stop() ran (the run was interrupted, a worker torn down),
 * they are killed on the way out instead of being left listening.
 */
const owned = new Set<() => number | undefined>();
let installed = false;

/** Registers a process (by a getter: a restarted service has a new pid); returns the release. */
export function reapOnExit(pid: () => number | undefined): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const get of owned) {
        const p = get();
        if (p === undefined) continue;
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  owned.add(pid);
  return () => {
    owned.delete(pid);
  };
}
