/**
 * Runs suites of the harness's own tests through vitest's Node API (`startVitest`), in this
 * process: the harness project's config (its globalSetup included), the chosen files, the
 * variables the tests read (BASTION_TIERS, the URLs of a target under test) and our reporter;
 * JUnit XML and the JSON report when a report directory is given.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startVitest } from 'vitest/node';
import { ProgressReporter } from './progress-reporter.js';
import { buildReport, formatSummary, type RunReport } from './report.js';

export interface RunSuitesOptions {
  suites: string[];
  requirementPrefixes: string[];
  /** Absolute paths of the test files to run. */
  files: string[];
  /** The harness package: vitest's root, where vitest.config.ts is. */
  harnessRoot: string;
  /** Variables set for the tests (the rest of the environment is inherited). */
  env: Record<string, string>;
  /** What is under test, for the report (never a secret). */
  target: Record<string, string>;
  reportDir?: string;
  testNamePattern?: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

export interface RunSuitesResult {
  report: RunReport;
  reportFiles: string[];
}

export async function runSuites(options: RunSuitesOptions): Promise<RunSuitesResult> {
  if (options.files.length === 0) throw new Error('no test files to run');
  const startedAt = new Date();
  const progress = new ProgressReporter(options.stdout, options.harnessRoot);
  const junitFile = options.reportDir === undefined ? undefined : join(options.reportDir, 'junit.xml');
  if (options.reportDir !== undefined) await mkdir(options.reportDir, { recursive: true });

  // startVitest returns when the run is over; the reporter hands over the instance as it starts, so
  // Ctrl-C can cancel the run (tests stop, their afterAll hooks still release what they started).
  const onAbort = () => void progress.vitest?.cancelCurrentRun('keyboard-input');
  // Vitest's logger exits the process on SIGINT/SIGTERM, before the tests' afterAll hooks could stop
  // what they started. bin.ts owns the signals: its handler aborts `signal`, which cancels the run.
  const before = new Map(
    (['SIGINT', 'SIGTERM'] as const).map((s) => [s, new Set(process.listeners(s))] as const),
  );
  progress.onReady = () => {
    for (const [signal, known] of before) {
      for (const listener of process.listeners(signal))
        if (!known.has(listener)) process.off(signal, listener);
    }
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const vitest = await startVitest(
      'test',
      options.files,
      {
        root: options.harnessRoot,
        config: join(options.harnessRoot, 'vitest.config.ts'),
        run: true,
        watch: false,
        env: options.env,
        reporters:
          junitFile === undefined ? [progress] : [progress, ['junit', { suiteName: 'bastion test' }]],
        ...(junitFile === undefined ? {} : { outputFile: { junit: junitFile } }),
        ...(options.testNamePattern === undefined ? {} : { testNamePattern: options.testNamePattern }),
      },
      {},
      { stdout: options.stdout as NodeJS.WriteStream, stderr: options.stderr as NodeJS.WriteStream },
    );
    await vitest.close();
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }

  const errors = [...progress.errors];
  if (options.signal.aborted) errors.push('the run was interrupted');
  const report = buildReport({
    suites: options.suites,
    requirementPrefixes: options.requirementPrefixes,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    target: options.target,
    tests: progress.tests,
    errors,
  });
  options.stdout.write(formatSummary(report));
  const reportFiles: string[] = [];
  if (options.reportDir !== undefined) {
    const jsonFile = join(options.reportDir, 'report.json');
    await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    reportFiles.push(jsonFile);
    if (junitFile !== undefined) reportFiles.push(junitFile);
    options.stdout.write(`Reports: ${reportFiles.join(', ')}\n`);
  }
  return { report, reportFiles };
}
