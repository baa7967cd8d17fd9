/**
 * A vitest reporter for `pnpm test`: the whole run's progress, because a full run takes minutes and
 * vitest's default reporter says only which file just finished. After each file (and at most every
 * 30 s while long files run) it prints one line to stderr: files done of all, tests so far by outcome,
 * the time taken, and which files are still running.
 */
import { relative } from 'node:path';
import type { Reporter, TestModule, TestSpecification, Vitest } from 'vitest/node';

const EVERY_MS = 30_000;

export default class RunProgressReporter implements Reporter {
  private root = process.cwd();
  private total = 0;
  private readonly running = new Set<string>();
  private finished = 0;
  private passed = 0;
  private failed = 0;
  private skipped = 0;
  private startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.total = specifications.length;
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.print(), EVERY_MS);
    this.timer.unref();
  }

  onTestModuleStart(module: TestModule): void {
    this.running.add(relative(this.root, module.moduleId));
  }

  onTestModuleEnd(module: TestModule): void {
    this.running.delete(relative(this.root, module.moduleId));
    this.finished++;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') this.passed++;
      else if (state === 'failed') this.failed++;
      else this.skipped++;
    }
    this.print();
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
  }

  private print(): void {
    const seconds = Math.round((Date.now() - this.startedAt) / 1000);
    const elapsed = `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
    const running = [...this.running];
    const shown =
      running.slice(0, 3).join(', ') + (running.length > 3 ? `, +${running.length - 3} more` : '');
    process.stderr.write(
      `[progress] ${this.finished}/${this.total} files, ${this.passed} passed, ${this.failed} failed, ` +
        `${this.skipped} skipped, ${elapsed}${running.length > 0 ? `; running: ${shown}` : ''}\n`,
    );
  }
}
