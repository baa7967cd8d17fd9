// The simulated shell's worker thread (see simulated-shell.ts): owns just-bash's in-memory file
// system and interpreter, so a script that loops does not stall the sandbox's gateway and servers.
// Plain JavaScript: a worker does not inherit the tsx loader the main thread runs under.
import { parentPort, workerData } from 'node:worker_threads';
import { Bash, InMemoryFs } from 'just-bash';

// just-bash's defence in depth blocks Atomics during a script; the abort flag is read through the
// function taken before any script ran.
const atomicsLoad = Atomics.load;

const { home, user, files, maxTotalBytes, executionLimits } = workerData;
const fs = new InMemoryFs(files, { maxTotalBytes });
for (const dir of [home, '/tmp']) fs.mkdirSync(dir, { recursive: true });
const bash = new Bash({
  fs,
  cwd: home,
  env: { HOME: home, USER: user, LOGNAME: user, SHELL: '/bin/bash', PATH: '/usr/bin:/bin' },
  executionLimits,
});

const FS_OPS = new Set([
  'stat',
  'lstat',
  'readFileBuffer',
  'writeFile',
  'mkdir',
  'readdir',
  'rm',
  'mv',
  'chmod',
  'utimes',
  'readlink',
]);

/** @type {Map<number, AbortController>} */
const running = new Map();

function errorOf(err) {
  const message = err instanceof Error ? err.message : String(err);
  // just-bash's errors carry the errno name at the start of the message ("ENOENT: no such file ...").
  const code = /^(E[A-Z]+)\b/.exec(message)?.[1];
  return { message, code };
}

async function exec(message) {
  const controller = new AbortController();
  const flag = new Int32Array(message.flag);
  // Statement boundaries read `signal.aborted`; a loop that never yields to this thread's event loop
  // still sees the main thread's write to the shared flag.
  const aborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get;
  Object.defineProperty(controller.signal, 'aborted', {
    get: () => atomicsLoad(flag, 0) === 1 || aborted?.call(controller.signal) === true,
  });
  running.set(message.id, controller);
  try {
    const result = await bash.exec(message.command, {
      cwd: message.cwd ?? home,
      env: message.env,
      stdin: Buffer.from(message.stdin).toString('latin1'),
      stdinKind: 'bytes',
      signal: controller.signal,
    });
    parentPort.postMessage({
      type: 'exec-done',
      id: message.id,
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.exitCode,
    });
  } catch (err) {
    parentPort.postMessage({
      type: 'exec-done',
      id: message.id,
      stdout: '',
      stderr: `bash: ${errorOf(err).message}\n`,
      exitCode: 2,
    });
  } finally {
    running.delete(message.id);
  }
}

async function fsCall(message) {
  try {
    if (!FS_OPS.has(message.op)) throw new Error(`EINVAL: unknown file system operation ${message.op}`);
    const value = await fs[message.op](...message.args);
    parentPort.postMessage({ type: 'fs-done', id: message.id, value });
  } catch (err) {
    parentPort.postMessage({ type: 'fs-done', id: message.id, error: errorOf(err) });
  }
}

parentPort.on('message', (message) => {
  if (message.type === 'exec') void exec(message);
  else if (message.type === 'abort') running.get(message.id)?.abort(new Error('signalled'));
  else if (message.type === 'fs') void fsCall(message);
});
parentPort.postMessage({ type: 'ready' });
