/**
 * A vitest reporter for `bastion test`: one line per test file as it finishes, with a running
 * count, each failed test as soon as it fails, and the results kept as plain records for the JSON
 * report.
 */
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSpecification, Vitest } from 'vitest/node';
import { tierOf } from '../testing/tier-names.js';
import { citedRequirements, type Outcome, type TestRecord } from './report.js';

function outcomeOf(test: TestCase): Outcome {
  const state = test.result().state;
  if (state === 'passed') return 'pass';
  if (state === 'failed') return 'fail';
  return 'skip';
}

function firstLines(text: string, n = 8): string {
  return text.split('\n').slice(0, n).join('\n');
}

function errorText(err: { message?: string; stack?: string; name?: string } | undefined): string {
  if (err === undefined) return 'unknown error';
  return firstLines(err.message ?? err.stack ?? String(err));
}

export class ProgressReporter implements Reporter {
  readonly tests: TestRecord[] = [];
  readonly errors: string[] = [];
  /** Set when the run starts, so the caller can cancel it. */
  vitest: Vitest | undefined;
  private total = 0;
  private done = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly root: string,
  ) {}

  /** Called once vitest is set up, before any test runs. */
  onReady: (() => void) | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
    this.onReady?.();
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.total = specifications.length;
    this.out.write(`Running ${this.total} test file(s)\n`);
  }

  onTestCaseResult(test: TestCase): void {
    if (test.result().state !== 'failed') return;
    this.out.write(`    ✗ ${test.fullName}\n`);
  }

  onTestModuleEnd(module: TestModule): void {
    this.done++;
    const file = relative(this.root, module.moduleId);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const test of module.children.allTests()) {
      const outcome = outcomeOf(test);
      if (outcome === 'pass') passed++;
      else if (outcome === 'fail') failed++;
      else skipped++;
      const { tier, skipReason } = tierOf(test.fullName);
      const errors = test.result().errors ?? [];
      this.tests.push({
        file,
        name: test.fullName,
        tier,
        requirements: citedRequirements(test.fullName),
        outcome,
        durationMs: Math.round(test.diagnostic()?.duration ?? 0),
        ...(outcome === 'fail' ? { error: errorText(errors[0]) } : {}),
        ...(skipReason === undefined ? {} : { skipReason }),
      });
    }
    const moduleErrors = [...module.errors()];
    for (const suite of module.children.allSuites()) moduleErrors.push(...suite.errors());
    for (const err of moduleErrors) this.errors.push(`${file}: ${errorText(err)}`);
    const mark = failed > 0 || moduleErrors.length > 0 ? '✗' : '✓';
    const seconds = ((module.diagnostic().duration ?? 0) / 1000).toFixed(1);
    const extra = moduleErrors.length > 0 ? `, ${moduleErrors.length} error(s) outside tests` : '';
    const width = String(this.total).length;
    this.out.write(
      `[${String(this.done).padStart(width)}/${this.total}] ${mark} ${file}  ` +
        `${passed} passed, ${failed} failed, ${skipped} skipped${extra} (${seconds} s)\n`,
    );
  }

  onTestRunEnd(
    _modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<{ message?: string; stack?: string }>,
  ): void {
    for (const err of unhandledErrors) this.errors.push(`unhandled: ${errorText(err)}`);
  }
}
