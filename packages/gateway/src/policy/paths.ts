/**
 * Path arguments (`remotePath`, `cwd`, ...) read the way the remote host will read them, as far as a
 * gateway can know that without seeing the remote file system:
 *
 * - `.` segments and repeated slashes are dropped; `..` steps back one segment. That is what the
 *   remote does, unless the segment it steps back over is a symbolic link (Debian links /var/run to
 *   /run, so /var/run/../etc is /etc there, not /var/etc). So a `..` that stepped over a segment makes
 *   the reading `uncertain`: a match of the normalised path still counts, a non-match is unknown.
 * - `/proc/self/root` and `/proc/thread-self/root` (also under `task/<tid>/`) are links to the root
 *   directory of the process that opens the path (proc(5)), i.e. the same `/` the rest of the path
 *   names: they are replaced by `/`.
 * - Other links that proc(5) and the kernel resolve through process state (another process's `root`,
 *   any `cwd`, `fd/N`, `map_files`, and `/dev/fd`, `/dev/stdin`...) lead somewhere the gateway cannot
 *   name: unknown.
 * - A relative path (or `~`) is resolved against a directory the gateway does not know (the remote
 *   user's home, the command's working directory): unknown.
 *
 * What no gateway can see: symbolic links and bind mounts on the remote, and what a shell command does
 * (`cd /etc && cat passwd`). The README says so and recommends `require` allow-lists.
 */

export type PathReading =
  | { kind: 'known'; path: string; uncertain: boolean }
  | { kind: 'unknown'; why: string };

const PROCESS = /^(self|thread-self|[0-9]+)$/;
const PROCESS_LINKS = new Set(['root', 'cwd', 'fd', 'map_files', 'exe']);
const DEV_FD_LINKS = new Set(['fd', 'stdin', 'stdout', 'stderr']);

/** What a `/proc/<p>/...` or `/dev/...` prefix of `segments` is, if it is one of the kernel's links. */
function kernelLink(segments: ReadonlyArray<string>): 'root-alias' | 'unknown' | undefined {
  const [top, second, third, fourth, fifth] = segments;
  if (top === 'dev' && second !== undefined && DEV_FD_LINKS.has(second) && segments.length === 2) {
    return 'unknown';
  }
  if (top !== 'proc' || second === undefined || !PROCESS.test(second)) return undefined;
  // /proc/<p>/task/<tid>/<link> is the same link for one thread of the process.
  const own = second === 'self' || second === 'thread-self';
  const link = third === 'task' && fourth !== undefined && /^[0-9]+$/.test(fourth) ? fifth : third;
  const depth = third === 'task' ? 5 : 3;
  if (link === undefined || segments.length !== depth || !PROCESS_LINKS.has(link)) return undefined;
  return link === 'root' && own ? 'root-alias' : 'unknown';
}

/** Reads `value` as an absolute path on the remote host (see the file comment). */
export function readRemotePath(value: string): PathReading {
  if (value.includes('\0')) return { kind: 'unknown', why: 'contains a NUL character' };
  if (!value.startsWith('/')) {
    return {
      kind: 'unknown',
      why: 'is relative: the remote resolves it against a directory the gateway does not know',
    };
  }
  const segments: string[] = [];
  let uncertain = false;
  for (const segment of value.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      // At the root `..` is the root itself: certain. Elsewhere the segment may be a link.
      if (segments.pop() !== undefined) uncertain = true;
      continue;
    }
    segments.push(segment);
    const link = kernelLink(segments);
    if (link === 'root-alias') segments.length = 0;
    else if (link === 'unknown') {
      return {
        kind: 'unknown',
        why: `goes through /${segments.join('/')}, a link the kernel resolves through a process's state (proc(5))`,
      };
    }
  }
  return { kind: 'known', path: `/${segments.join('/')}`, uncertain };
}
