/**
 * Where a policy comes from: inline in the config (fixed), or a file that is reloaded when it changes.
 * A valid new file replaces the policy in one assignment (a call in progress keeps the policy it
 * started with; counters live in the counter store, so they carry over); an invalid one is rejected,
 * its problems reported, and the old policy stays in force.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { CompiledPolicy } from './compile.js';
import { parsePolicyText } from './load.js';
import { PolicyLoadError, type Problem } from './problems.js';

export type ReloadEvent =
  | { kind: 'applied'; source: string; version: string }
  | { kind: 'rejected'; source: string; problems: Problem[] }
  | { kind: 'unchanged'; source: string };

export interface PolicySource {
  /** For messages: the file path, or the config pointer of an inline policy. */
  readonly label: string;
  current(): CompiledPolicy | undefined;
  close(): void;
}

export class InlinePolicySource implements PolicySource {
  constructor(
    private readonly policy: CompiledPolicy,
    readonly label: string,
  ) {}
  current(): CompiledPolicy {
    return this.policy;
  }
  close(): void {}
}

export interface FilePolicySourceOptions {
  /** Extra checks on a candidate (the `args.*` paths against the upstream's tools, once known). */
  check: (policy: CompiledPolicy) => Problem[];
  onReload: (event: ReloadEvent) => void;
  /** Quiet time after a change before reading, so an editor's write-then-rename is read once. */
  debounceMs?: number;
}

export class FilePolicySource implements PolicySource {
  private policy: CompiledPolicy | undefined;
  private text: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadEvent> | undefined;
  private pending = false;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly options: FilePolicySourceOptions,
  ) {}

  get label(): string {
    return this.path;
  }

  current(): CompiledPolicy | undefined {
    return this.policy;
  }

  /** First load; throws PolicyLoadError with every problem. */
  async load(): Promise<void> {
    const text = await this.read();
    const problems = this.validate(text);
    if (problems.length > 0) throw new PolicyLoadError(problems, this.path);
  }

  /** Watches the directory, not the file: editors often replace a file by renaming a new one over it. */
  watch(): void {
    if (this.watcher !== undefined || this.closed) return;
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(), this.options.debounceMs ?? 50);
    });
    this.watcher.on('error', () => {
      // The directory went away; the policy in force stays, and a later reload() may still succeed.
    });
  }

  /** Reads the file again and applies it if valid. Concurrent calls are serialised. */
  reload(): Promise<ReloadEvent> {
    if (this.reloading !== undefined) {
      this.pending = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = undefined;
      if (this.pending && !this.closed) {
        this.pending = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async reloadOnce(): Promise<ReloadEvent> {
    let event: ReloadEvent;
    try {
      const text = await this.read();
      if (text === this.text && this.policy !== undefined) {
        event = { kind: 'unchanged', source: this.path };
      } else {
        const problems = this.validate(text);
        event =
          problems.length > 0
            ? { kind: 'rejected', source: this.path, problems }
            : { kind: 'applied', source: this.path, version: this.policy?.version ?? '' };
      }
    } catch (err) {
      event = {
        kind: 'rejected',
        source: this.path,
        problems: [{ pointer: '', message: (err as Error).message }],
      };
    }
    if (!this.closed) this.options.onReload(event);
    return event;
  }

  private async read(): Promise<string> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (err) {
      throw new PolicyLoadError(
        [{ pointer: '', message: `cannot read: ${(err as Error).message}` }],
        this.path,
      );
    }
  }

  /** Parses, compiles and checks `text`; on success makes it the policy in force. */
  private validate(text: string): Problem[] {
    const result = parsePolicyText(text);
    if (!result.ok) return result.problems;
    const problems = this.options.check(result.policy);
    if (problems.length > 0) return problems;
    this.policy = result.policy;
    this.text = text;
    return [];
  }
}
